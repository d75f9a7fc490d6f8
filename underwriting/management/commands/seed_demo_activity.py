from django.core.management.base import BaseCommand

from underwriting.demo import seed_demo_activity


class Command(BaseCommand):
    help = "Create a quoted and a referred demo application for firm A (idempotent)."

    def handle(self, *args, **options):
        created = seed_demo_activity()
        if created:
            self.stdout.write(self.style.SUCCESS("Demo activity: " + ", ".join(created)))
        else:
            self.stdout.write("Demo activity: already present or not possible, nothing changed.")
