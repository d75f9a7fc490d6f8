from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

CLAIM_MODELS = (
    "claim",
    "claimevent",
    "claimdocument",
    "documentrequest",
    "claimassessment",
    "claimletter",
    "claimpayment",
    "subrogation",
    "recovery",
    "reinstatement",
)


class ClaimsConfig(AppConfig):
    name = "claims"
    verbose_name = _("Claims")

    def ready(self):
        from portal import roles

        handling = [f"claims.view_{model}" for model in CLAIM_MODELS] + [
            "claims.change_claim",
            "claims.assess_claim",
            "claims.change_reinstatement",
        ]
        roles.GROUP_PERMISSIONS[roles.CLAIMS_HANDLER] += handling
        # A supervisor reads what a handler reads (policies, the catalogue) and handles claims.
        supervisor = roles.GROUP_PERMISSIONS[roles.CLAIMS_SUPERVISOR]
        supervisor += [
            p for p in roles.GROUP_PERMISSIONS[roles.CLAIMS_HANDLER] if p not in supervisor
        ]
        # Underwriters see claims on the policies they write, read-only.
        for group in (roles.UNDERWRITER, roles.SENIOR_UNDERWRITER):
            roles.GROUP_PERMISSIONS[group] += ["claims.view_claim", "claims.view_claimpayment"]
