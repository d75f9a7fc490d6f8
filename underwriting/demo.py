"""Demo activity for the quick start: an application waiting in the referral queue and one
quoted and ready for the exclusion notice, so each role has something to open after
`make run`. Goes through the services like any applicant would.

Idempotent: nothing is created when firm A already has an application.
"""

from datetime import timedelta

from django.utils import timezone

from portal.choices import AssetKind
from portal.models import Firm, User
from underwriting import services
from underwriting.choices import QuestionnaireKind
from underwriting.models import Application, Product

DEMO_APPLICANT = "applicant-a@demo.example"
DEMO_PRODUCT = "PAT-ENF"
RISK = {
    "industry": "electronic_information",
    "annual_sales": "8000000",
    "management": "basic",
    "suits_last_5_years": "0",
    "known_dispute": "false",
    "warning_letters": "false",
    "invalidation_requests": "false",
    "sales_regions": ["cn"],
    "fto_report": "provided",
    "npe_exposure": "false",
    "group_scheme": "individual",
}
VALUATION = {
    "invalidation_history": "none",
    "claim_type": "product",
    "non_circumventability": "4",
    "technical_maturity": "mass_production",
    "substitutes": "few",
    "market_share": "12",
    "revenue_attributable": "5000000",
    "licensing": "none",
    "royalty_rate": "5",
    "economic_life": "8",
    "discount_rate": "12",
    "rd_cost": "800000",
    "obsolescence": "20",
}


def _answers(questions, wanted: dict) -> dict:
    answers = {}
    for question in questions:
        code = question["code"]
        options = [o["code"] for o in question.get("options", ())]
        if code in wanted and (question.get("kind") != "choice" or wanted[code] in options):
            answers[code] = wanted[code]
        elif question.get("required", True) and not question.get("show_if") and options:
            answers[code] = options[0] if question.get("kind") == "choice" else [options[0]]
    return answers


def _apply(firm, user, product, patent, risk_overrides) -> Application:
    application = services.application_start(firm=firm, actor=user, product=product)
    version = application.clause_version
    services.application_cover_save(
        application=application,
        actor=user,
        asset_ids=[patent.pk],
        limits={"investigation": "50000", "legal": "150000"},
        deductible="d10",
        wished_start=timezone.localdate() + timedelta(days=14),
    )
    valuation = services.questionnaire_of(version, QuestionnaireKind.VALUATION)
    if valuation is not None:
        services.application_valuation_save(
            application=application,
            actor=user,
            asset_id=patent.pk,
            answers=_answers(valuation.questions, VALUATION),
        )
    risk = services.questionnaire_of(version, QuestionnaireKind.RISK)
    services.application_risk_save(
        application=application,
        actor=user,
        answers=_answers(risk.questions, {**RISK, **risk_overrides}),
    )
    return services.application_submit(application=application, actor=user, declaration=True)


def seed_demo_activity() -> list[str]:
    user = User.objects.filter(email=DEMO_APPLICANT).first()
    product = Product.objects.filter(code=DEMO_PRODUCT).first()
    if user is None or product is None:
        return []
    membership = user.memberships.select_related("firm").first()
    firm: Firm | None = membership.firm if membership else None
    if firm is None or Application.objects.filter(firm=firm).exists():
        return []
    patent = (
        firm.ip_assets.filter(kind=AssetKind.PATENT, expiry_date__isnull=False)
        .order_by("-expiry_date")
        .first()
    )
    if patent is None:
        return []
    quoted = _apply(firm, user, product, patent, {})
    referred = _apply(firm, user, product, patent, {"sales_regions": ["cn", "us_ca"]})
    return [
        f"application {quoted.reference} ({quoted.status})",
        f"application {referred.reference} ({referred.status})",
    ]
