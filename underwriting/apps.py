from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

CATALOGUE_MODELS = (
    "insurer",
    "product",
    "productinsurer",
    "rider",
    "clauseversion",
    "ratingsection",
    "coefficienttable",
    "coefficientoption",
    "riderfactor",
)


class UnderwritingConfig(AppConfig):
    name = "underwriting"
    verbose_name = _("Underwriting")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from portal import roles
        from underwriting.catalogue_cache import catalogue_changed

        # What the catalogue page shows: its rendered list is kept until one of these changes.
        for model in ("Insurer", "Product", "ProductInsurer"):
            sender = self.get_model(model)
            post_save.connect(catalogue_changed, sender=sender, dispatch_uid=f"catalogue-{model}")
            post_delete.connect(
                catalogue_changed, sender=sender, dispatch_uid=f"catalogue-{model}-"
            )

        view = [f"underwriting.view_{model}" for model in CATALOGUE_MODELS]
        edit = [
            f"underwriting.{action}_{model}"
            for model in CATALOGUE_MODELS
            for action in ("add", "change", "delete")
        ]
        # Product managers write the catalogue; underwriters and claims handlers read it.
        roles.GROUP_PERMISSIONS[roles.PRODUCT_MANAGER] += view + edit
        # Questionnaires and rules are product data too.
        roles.GROUP_PERMISSIONS[roles.PRODUCT_MANAGER] += [
            f"underwriting.{action}_{model}"
            for model in ("questionnaire", "underwritingrule")
            for action in ("view", "add", "change", "delete")
        ]
        for group in (roles.UNDERWRITER, roles.SENIOR_UNDERWRITER, roles.CLAIMS_HANDLER):
            roles.GROUP_PERMISSIONS[group] += view + [
                "underwriting.view_questionnaire",
                "underwriting.view_underwritingrule",
            ]
        # Underwriters work the referral queue; seniors also approve quotes above an
        # underwriter's authority and set authorities.
        underwriting = [
            "underwriting.view_application",
            "underwriting.change_application",
            "underwriting.view_quote",
            "underwriting.view_underwriterauthority",
        ]
        roles.GROUP_PERMISSIONS[roles.UNDERWRITER] += underwriting
        roles.GROUP_PERMISSIONS[roles.SENIOR_UNDERWRITER] += underwriting + [
            "underwriting.approve_quote",
            "underwriting.add_underwriterauthority",
            "underwriting.change_underwriterauthority",
        ]
        roles.GROUP_PERMISSIONS[roles.CLAIMS_HANDLER] += [
            "underwriting.view_application",
            "underwriting.view_quote",
        ]
        # Policies: everyone on the insurer's side reads them and the acknowledgements; the
        # underwriters book bank transfers on reconciliation.
        policy_views = [
            f"underwriting.view_{model}"
            for model in (
                "policy",
                "acknowledgement",
                "instalment",
                "payment",
                "policydocument",
                "endorsement",
                "cancellation",
            )
        ]
        for group in (roles.UNDERWRITER, roles.SENIOR_UNDERWRITER, roles.CLAIMS_HANDLER):
            roles.GROUP_PERMISSIONS[group] += policy_views
        for group in (roles.UNDERWRITER, roles.SENIOR_UNDERWRITER):
            roles.GROUP_PERMISSIONS[group] += ["underwriting.add_payment"]
        # Endorsements and cancellations on the insurer's behalf change the contract.
        roles.GROUP_PERMISSIONS[roles.SENIOR_UNDERWRITER] += [
            "underwriting.add_endorsement",
            "underwriting.add_cancellation",
        ]
