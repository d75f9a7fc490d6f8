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
        from portal import roles

        view = [f"underwriting.view_{model}" for model in CATALOGUE_MODELS]
        edit = [
            f"underwriting.{action}_{model}"
            for model in CATALOGUE_MODELS
            for action in ("add", "change", "delete")
        ]
        # Product managers write the catalogue; underwriters and claims handlers read it.
        roles.GROUP_PERMISSIONS[roles.PRODUCT_MANAGER] += view + edit
        for group in (roles.UNDERWRITER, roles.SENIOR_UNDERWRITER, roles.CLAIMS_HANDLER):
            roles.GROUP_PERMISSIONS[group] += view
