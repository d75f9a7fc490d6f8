"""Builders for application tests: answer a questionnaire the way an ordinary low-risk firm
would, whatever the questions of the seeded catalogue are, with chosen overrides."""

from datetime import date, timedelta

from django.utils import timezone

from portal.choices import AssetKind, LegalStatus
from tests.factories import IPAssetFactory
from underwriting import services
from underwriting.choices import QuestionnaireKind
from underwriting.models import Product

# Benign answers by question code; questions not listed get a neutral default by kind.
ORDINARY_RISK = {
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
ORDINARY_VALUATION = {
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


def _neutral(question: dict):
    kind = question.get("kind")
    if kind == "boolean":
        return "false"
    if kind in ("integer", "number"):
        return str(question.get("min") or 0)
    if kind == "choice":
        return question["options"][0]["code"]
    if kind == "multi":
        return [question["options"][0]["code"]]
    if kind == "date":
        return timezone.localdate().isoformat()
    return "无"


def answers_for(questions, base: dict, overrides: dict | None = None) -> dict:
    answers = {}
    wanted = {**base, **(overrides or {})}
    for question in questions:
        code = question["code"]
        options = [o["code"] for o in question.get("options", ())]
        fits = question.get("kind") != "choice" or wanted.get(code) in options
        if code in wanted and fits:
            answers[code] = wanted[code]
        elif question.get("required", True) and not question.get("show_if"):
            answers[code] = _neutral(question)
    return answers


def granted_patent(firm, *, years_left: int = 12, **fields):
    defaults = {
        "kind": AssetKind.PATENT,
        "legal_status": LegalStatus.GRANTED,
        "grant_date": date(2021, 5, 1),
        "expiry_date": timezone.localdate() + timedelta(days=365 * years_left + 10),
        "claim_count": 8,
        "family_countries": ["CN"],
    }
    defaults.update(fields)
    return IPAssetFactory(firm=firm, **defaults)


def filled_application(
    firm,
    user,
    *,
    product_code: str = "PAT-ENF",
    assets=None,
    limits=None,
    deductible: str | None = None,
    risk: dict | None = None,
    valuation: dict | None = None,
    riders=(),
):
    """An application with every step completed, ready to submit."""
    product = Product.objects.get(code=product_code)
    application = services.application_start(firm=firm, actor=user, product=product)
    assets = assets if assets is not None else [granted_patent(firm)]
    version = application.clause_version
    if limits is None:
        limits = {s.code: (s.limit_options or ["100000"])[0] for s in version.rating_sections.all()}
        if product_code == "PAT-ENF":
            limits = {"investigation": "50000", "legal": "150000"}
    if deductible is None:
        table = next(
            (t for t in version.coefficient_tables.all() if t.input_key == "deductible_rate"),
            None,
        )
        deductible = ""
        if table is not None:
            default = next((o for o in table.options.all() if o.is_default), None)
            deductible = default.code if default else ""
    application = services.application_cover_save(
        application=application,
        actor=user,
        asset_ids=[a.pk for a in assets],
        limits=limits,
        deductible=deductible,
        rider_codes=list(riders),
        wished_start=timezone.localdate() + timedelta(days=7),
    )
    valuation_questionnaire = services.questionnaire_of(version, QuestionnaireKind.VALUATION)
    for asset in assets:
        if valuation_questionnaire and asset.kind == AssetKind.PATENT:
            services.application_valuation_save(
                application=application,
                actor=user,
                asset_id=asset.pk,
                answers=answers_for(
                    valuation_questionnaire.questions, ORDINARY_VALUATION, valuation
                ),
            )
    risk_questionnaire = services.questionnaire_of(version, QuestionnaireKind.RISK)
    services.application_risk_save(
        application=application,
        actor=user,
        answers=answers_for(risk_questionnaire.questions, ORDINARY_RISK, risk),
    )
    application.refresh_from_db()
    return application


def notice_token_shown_ago(quote, user, seconds: int) -> str:
    """A notice token as if the page had been opened ``seconds`` ago."""
    import time
    from unittest import mock

    from django.core import signing

    notice = services.exclusion_notice(quote)
    stamp = signing.b62_encode(int(time.time()) - seconds)
    with mock.patch.object(signing.TimestampSigner, "timestamp", return_value=stamp):
        return services.notice_token(quote=quote, user=user, notice=notice)


def acknowledge(quote, user, *, seconds_read: int = 120, instalments: int = 1, **overrides):
    """Acknowledge every exclusion of the quote properly and accept it; returns the policy."""
    notice = services.exclusion_notice(quote)
    arguments = {
        "quote": quote,
        "actor": user,
        "token": notice_token_shown_ago(quote, user, seconds_read),
        "text_sha256": notice.sha256,
        "ticks": {key: True for key in notice.keys},
        "confirmed": True,
        "instalments": instalments,
        "ip_address": "127.0.0.1",
        "user_agent": "pytest",
    }
    arguments.update(overrides)
    return services.acknowledgement_record(**arguments)
