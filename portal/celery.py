import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic work is declared here, in code, so every deployment runs the same schedule.
app.conf.beat_schedule = {
    "expire-stale-invitations": {
        "task": "portal.tasks.expire_stale_invitations",
        "schedule": 3600.0,
    },
    "expire-quotes": {"task": "underwriting.tasks.expire_quotes", "schedule": 3600.0},
    "sweep-quote-pdfs": {"task": "underwriting.tasks.sweep_quote_pdfs", "schedule": 300.0},
    "roll-policies": {"task": "underwriting.tasks.roll_policies", "schedule": 3600.0},
    "remind-instalments": {"task": "underwriting.tasks.remind_instalments", "schedule": 3600.0},
    "cancellations-and-renewals": {
        "task": "underwriting.tasks.cancellations_and_renewals",
        "schedule": 3600.0,
    },
    "sweep-policy-documents": {
        "task": "underwriting.tasks.sweep_policy_documents",
        "schedule": 300.0,
    },
    "sweep-claim-work": {"task": "claims.tasks.sweep_claim_work", "schedule": 120.0},
    # Hourly, though each claim is warned at most once a day: a worker down at 08:00 still
    # warns the same morning.
    "claim-deadline-warnings": {"task": "claims.tasks.warn_claim_deadlines", "schedule": 3600.0},
    "sweep-subsidy-requests": {"task": "subsidies.tasks.sweep_subsidy_requests", "schedule": 300.0},
    "sweep-notification-emails": {
        "task": "portal.tasks.sweep_notification_emails",
        "schedule": 300.0,
    },
    "sweep-invitation-emails": {"task": "portal.tasks.sweep_invitation_emails", "schedule": 300.0},
}


@app.on_after_finalize.connect
def _ensure_broker_folders(sender, **kwargs):
    # The filesystem transport of the quick start needs its folders before the first message.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)
