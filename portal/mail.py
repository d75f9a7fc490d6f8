from django.core.mail.backends.console import EmailBackend as ConsoleBackend


class DevOutboxBackend(ConsoleBackend):
    """Development mail: printed to the console and kept for the dev outbox page."""

    def send_messages(self, email_messages):
        from portal.models import OutboxEmail

        sent = super().send_messages(email_messages)
        for message in email_messages or []:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []) or []:
                if mimetype == "text/html":
                    html = content
            OutboxEmail.objects.create(
                to=", ".join(message.to),
                subject=str(message.subject),
                body=str(message.body),
                html_body=html,
            )
        return sent
