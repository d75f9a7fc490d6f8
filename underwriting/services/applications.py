"""Applying for cover: the form's steps, answers, submission, automatic underwriting, referral,
underwriters' terms, quotes and their acceptance or expiry.

Every write here runs in a transaction, re-reads the row it changes with ``select_for_update``,
checks the transition table and records an ``ApplicationEvent`` — the applicant's timeline.
"""

import hashlib
import json
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.choices import AssetKind, LegalStatus
from portal.errors import DomainError, PermissionDenied
from portal.history import acting_as
from portal.models import Firm, IPAsset, User
from portal.notifications import notify
from portal.roles import SENIOR_UNDERWRITER
from portal.selectors import firm_users
from portal.services import require_member
from underwriting import rating, rules, valuation
from underwriting.choices import (
    APPLICATION_TRANSITIONS,
    QUOTE_TRANSITIONS,
    ApplicationStatus,
    ClauseStatus,
    DocumentStatus,
    ProductStatus,
    QuestionnaireKind,
    QuoteStatus,
)
from underwriting.models import (
    Application,
    ApplicationAsset,
    ApplicationEvent,
    ClauseVersion,
    Product,
    Questionnaire,
    Quote,
    UnderwriterAuthority,
    UnderwriterQuestion,
    UnderwritingRule,
    pick_language,
)
from underwriting.questionnaires import clean_answers
from underwriting.services.catalogue import _decimal, premium_quote

__all__ = [
    "AnswersInvalid",
    "Evaluation",
    "answers_hash",
    "application_answer_question",
    "application_ask",
    "application_assign",
    "application_cover_save",
    "application_decline",
    "application_evaluate",
    "application_risk_save",
    "application_start",
    "application_steps",
    "application_submit",
    "application_valuation_save",
    "application_withdraw",
    "authority_of",
    "breakdown_to_json",
    "current_clause_version",
    "questionnaire_of",
    "quote_accept",
    "quote_approve",
    "quote_pdf_request",
    "quote_reject_approval",
    "quotes_expire",
    "stale_quote_pdfs",
    "sum_insured_of",
    "underwriter_quote",
    "valuation_input",
]

CENT = Decimal("0.01")
STEP_COVER = "cover"
STEP_RISK = "risk"
STEP_REVIEW = "review"
DEDUCTIBLE_INPUT = "deductible_rate"
# Rating inputs the portal derives itself rather than asking for.
DERIVED_INPUTS = ("deductible_rate", "aggregate_limit", "limit_ratio", "pledge_ratio")
MAX_WISHED_START_DAYS = 180
OPEN_FOR_UNDERWRITERS = {
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.REFERRED,
    ApplicationStatus.INFO_REQUESTED,
}


class AnswersInvalid(DomainError):
    """Some answers of a step are missing or wrong; ``errors`` maps question code → message."""

    def __init__(self, errors: dict):
        super().__init__(_("Some answers need your attention."), code="answers")
        self.errors = errors


# --- Reading helpers ---------------------------------------------------------------------------


def _is_underwriter(user) -> bool:
    return bool(user and user.is_staff and user.has_perm("underwriting.change_application"))


def _require_underwriter(user) -> None:
    if not _is_underwriter(user):
        raise PermissionDenied(_("Only underwriters may do this."))


def questionnaire_of(version: ClauseVersion, kind: str) -> Questionnaire | None:
    for questionnaire in version.questionnaires.all():
        if questionnaire.kind == kind:
            return questionnaire
    return None


def _insured(application: Application) -> list[ApplicationAsset]:
    return list(application.insured_assets.select_related("asset").order_by("position", "id"))


def _needs_valuation(application: Application, insured) -> list[ApplicationAsset]:
    if questionnaire_of(application.clause_version, QuestionnaireKind.VALUATION) is None:
        return []
    return [item for item in insured if item.asset.kind == AssetKind.PATENT]


def application_steps(application: Application, insured=None) -> list[dict]:
    """The form's steps in order: cover, one valuation step per patent, risk, review."""
    insured = _insured(application) if insured is None else insured
    steps = [{"key": STEP_COVER, "title": _("Cover"), "asset": None}]
    for item in _needs_valuation(application, insured):
        steps.append(
            {
                "key": f"valuation-{item.asset_id}",
                "title": _("Value of %(number)s") % {"number": item.asset.number or item.asset},
                "asset": item,
            }
        )
    steps.append({"key": STEP_RISK, "title": _("Risk"), "asset": None})
    steps.append({"key": STEP_REVIEW, "title": _("Review and declare"), "asset": None})
    done = set(application.completed_steps or [])
    for step in steps:
        step["done"] = step["key"] in done
    return steps


# --- Transitions -------------------------------------------------------------------------------


def _transition(application: Application, target: str, actor, reason: str = "") -> None:
    current = ApplicationStatus(application.status)
    if target not in APPLICATION_TRANSITIONS[current]:
        raise DomainError(
            _("The application is %(status)s and cannot become %(target)s.")
            % {"status": current.label, "target": ApplicationStatus(target).label},
            code="transition",
        )
    with acting_as(actor if getattr(actor, "pk", None) else None):
        application.status = target
        application.status_changed_at = timezone.now()
        application.save(update_fields=["status", "status_changed_at", "updated_at"])
    ApplicationEvent.objects.create(
        application=application,
        actor=actor if getattr(actor, "pk", None) else None,
        from_status=current,
        to_status=target,
        reason=reason,
    )


def _quote_transition(quote: Quote, target: str, actor) -> None:
    current = QuoteStatus(quote.status)
    if target not in QUOTE_TRANSITIONS[current]:
        raise DomainError(
            _("The quote is %(status)s and cannot become %(target)s.")
            % {"status": current.label, "target": QuoteStatus(target).label},
            code="transition",
        )
    with acting_as(actor if getattr(actor, "pk", None) else None):
        quote.status = target
        quote.save(update_fields=["status"])


def _locked(application: Application) -> Application:
    return (
        Application.objects.select_for_update()
        .select_related("product", "clause_version", "firm")
        .get(pk=application.pk)
    )


def _application_url(application: Application) -> str:
    return f"/app/applications/{application.pk}/"


def _notify_applicants(application: Application, title, body="", **params) -> None:
    notify(
        users=firm_users(application.firm),
        title=title,
        body=body,
        params={"reference": application.reference, **params},
        url=_application_url(application),
        firm=application.firm,
    )


# --- Starting and filling in ------------------------------------------------------------------


def current_clause_version(product: Product) -> ClauseVersion | None:
    return (
        ClauseVersion.objects.filter(product=product, status=ClauseStatus.PUBLISHED)
        .order_by("-number")
        .first()
    )


@transaction.atomic
def application_start(*, firm: Firm, actor, product: Product) -> Application:
    require_member(firm=firm, user=actor)
    if product.status != ProductStatus.PUBLISHED:
        raise DomainError(_("This product is not on sale."))
    version = current_clause_version(product)
    if version is None:
        raise DomainError(_("This product has no published wording yet."))
    with acting_as(actor):
        application = Application.objects.create(
            firm=firm, product=product, clause_version=version, created_by=actor
        )
    ApplicationEvent.objects.create(
        application=application, actor=actor, to_status=ApplicationStatus.DRAFT
    )
    return application


def _require_editable(application: Application, actor) -> None:
    require_member(firm=application.firm, user=actor)
    if application.status != ApplicationStatus.DRAFT:
        raise DomainError(
            _("The application was submitted; its answers can no longer change."), code="frozen"
        )


def _deductible_table(version: ClauseVersion):
    for table in version.coefficient_tables.all():
        if table.input_key == DEDUCTIBLE_INPUT:
            return table
    return None


def sum_insured_of(version: ClauseVersion, limits: dict, item_count: int) -> Decimal:
    total = Decimal("0")
    for section in version.rating_sections.all():
        if limits.get(section.code) not in (None, ""):
            amount = Decimal(str(limits[section.code]))
            total += amount * (item_count if section.per_item else 1)
    return total.quantize(CENT)


@transaction.atomic
def application_cover_save(
    *,
    application: Application,
    actor,
    asset_ids,
    limits: dict,
    deductible: str = "",
    rider_codes=(),
    wished_start=None,
) -> Application:
    """Step 1: which rights, which limits, deductible and riders, and when cover should start."""
    application = _locked(application)
    _require_editable(application, actor)
    version = application.clause_version
    product = application.product
    errors = {}

    asset_ids = [int(a) for a in asset_ids]
    assets = list(IPAsset.objects.filter(firm=application.firm, pk__in=asset_ids))
    if len(assets) != len(set(asset_ids)):
        errors["assets"] = _("Choose rights of your own firm.")
    elif not assets:
        errors["assets"] = _("Choose at least one right to insure.")
    elif any(a.kind not in (product.ip_types or []) for a in assets):
        errors["assets"] = _("This product does not cover some of the rights you chose.")

    clean_limits = {}
    sections = list(version.rating_sections.all())
    for section in sections:
        raw = limits.get(section.code)
        if raw in (None, ""):
            continue
        try:
            amount = _decimal(raw, section.name)
        except DomainError as error:
            errors[f"limit_{section.code}"] = error.message
            continue
        options = [Decimal(str(o)) for o in (section.limit_options or [])]
        if options and amount not in options:
            errors[f"limit_{section.code}"] = _("Choose one of the limits offered.")
        elif amount <= 0:
            errors[f"limit_{section.code}"] = _("A limit must be above zero.")
        else:
            clean_limits[section.code] = str(amount.quantize(CENT))
    if sections and not clean_limits and not any(k.startswith("limit_") for k in errors):
        errors["limits"] = _("Choose a limit for at least one cover section.")

    table = _deductible_table(version)
    if table is not None and deductible:
        if deductible not in {o.code for o in table.options.all()}:
            errors["deductible"] = _("Choose one of the deductibles offered.")
    elif table is None:
        deductible = ""

    offered = {
        f.rider.code
        for f in version.rider_factors.select_related("rider")
        if f.rider.status == ProductStatus.PUBLISHED
    }
    rider_codes = list(dict.fromkeys(rider_codes))
    if any(code not in offered for code in rider_codes):
        errors["riders"] = _("Choose among the riders offered with this product.")

    today = timezone.localdate()
    if wished_start is None:
        errors["wished_start"] = _("Tell us when cover should start.")
    elif wished_start < today:
        errors["wished_start"] = _("Cover cannot start in the past.")
    elif wished_start > today + timedelta(days=MAX_WISHED_START_DAYS):
        errors["wished_start"] = _("Cover can start at most %(days)d days from today.") % {
            "days": MAX_WISHED_START_DAYS
        }
    if errors:
        raise AnswersInvalid(errors)

    kept = {item.asset_id: item for item in application.insured_assets.all()}
    application.insured_assets.exclude(asset_id__in=asset_ids).delete()
    for position, asset in enumerate(sorted(assets, key=lambda a: asset_ids.index(a.pk))):
        item = kept.get(asset.pk)
        if item is None:
            ApplicationAsset.objects.create(application=application, asset=asset, position=position)
        elif item.position != position:
            ApplicationAsset.objects.filter(pk=item.pk).update(position=position)

    application.limits = clean_limits
    application.deductible = deductible
    application.rider_codes = rider_codes
    application.wished_start = wished_start
    application.sum_insured = sum_insured_of(version, clean_limits, len(assets))
    done = [s for s in application.completed_steps or [] if s != STEP_COVER]
    application.completed_steps = [STEP_COVER, *done]
    with acting_as(actor):
        application.save()
    return application


def _questions(application: Application, kind: str) -> list[dict]:
    questionnaire = questionnaire_of(application.clause_version, kind)
    return list(questionnaire.questions) if questionnaire else []


def _mark_step(application: Application, key: str, complete: bool) -> None:
    steps = [s for s in (application.completed_steps or []) if s != key]
    if complete:
        steps.append(key)
    application.completed_steps = steps


def application_valuation_save(
    *, application: Application, actor, asset_id: int, answers: dict, complete: bool = True
) -> ApplicationAsset:
    """One patent's valuation answers. With ``complete`` False (going back) the raw answers are
    kept as they are, unchecked, so nothing typed is lost. Invalid answers are kept too, with
    the step marked not done, before ``AnswersInvalid`` is raised."""
    with transaction.atomic():
        application = _locked(application)
        _require_editable(application, actor)
        item = application.insured_assets.select_related("asset").filter(asset_id=asset_id).first()
        if item is None or item.asset.kind != AssetKind.PATENT:
            raise DomainError(_("That patent is not part of this application."))
        questions = _questions(application, QuestionnaireKind.VALUATION)
        errors = {}
        if complete:
            cleaned, errors = clean_answers(questions, answers)
        item.valuation_answers = dict(answers) if (errors or not complete) else cleaned
        item.save(update_fields=["valuation_answers"])
        _mark_step(application, f"valuation-{asset_id}", complete and not errors)
        with acting_as(actor):
            application.save(update_fields=["completed_steps", "updated_at"])
    if errors:
        raise AnswersInvalid(errors)
    return item


def application_risk_save(
    *, application: Application, actor, answers: dict, complete: bool = True
) -> Application:
    """The risk answers; kept like the valuation answers when incomplete or invalid."""
    with transaction.atomic():
        application = _locked(application)
        _require_editable(application, actor)
        questions = _questions(application, QuestionnaireKind.RISK)
        errors = {}
        if complete:
            cleaned, errors = clean_answers(questions, answers)
        application.risk_answers = dict(answers) if (errors or not complete) else cleaned
        _mark_step(application, STEP_RISK, complete and not errors)
        with acting_as(actor):
            application.save(update_fields=["risk_answers", "completed_steps", "updated_at"])
    if errors:
        raise AnswersInvalid(errors)
    return application


# --- Evaluation: valuation, rating, rules ------------------------------------------------------


class Evaluation:
    """What the portal makes of an application: values, premium, rule hits and the decision."""

    def __init__(self, *, valuations, valuation_total, facts, quote, decision, problems):
        self.valuations = valuations  # {asset_id: valuation dict}
        self.valuation_total = valuation_total
        self.facts = facts
        self.quote = quote  # rating.PremiumBreakdown or None
        self.decision = decision  # rules.Decision
        self.problems = problems  # reasons the premium could not be computed

    @property
    def outcome(self) -> str:
        if self.problems and self.decision.outcome == "quote":
            return "refer"
        return self.decision.outcome


def _remaining_years(asset: IPAsset):
    if not asset.expiry_date:
        return None
    days = (asset.expiry_date - timezone.localdate()).days
    return (Decimal(max(days, 0)) / Decimal("365.25")).quantize(Decimal("0.01"))


def _in_force(asset: IPAsset) -> bool:
    if asset.legal_status != LegalStatus.GRANTED:
        return False
    return asset.expiry_date is None or asset.expiry_date >= timezone.localdate()


def _answer_decimal(answers: dict, code: str, default=None):
    value = answers.get(code)
    if value in (None, ""):
        return default
    return Decimal(str(value))


def valuation_input(asset: IPAsset, answers: dict) -> valuation.PatentValuationInput:
    """The valuation engine's input from the patent's record and the applicant's answers: the
    record gives the legal facts (term, family, claims), the answers the rest."""
    revenue = _answer_decimal(answers, "revenue_attributable", Decimal("0"))
    income = None
    if all(answers.get(k) not in (None, "") for k in ("royalty_rate", "economic_life")):
        income = valuation.IncomeInputs(
            annual_revenue=revenue,
            royalty_rate=_answer_decimal(answers, "royalty_rate"),
            economic_life_years=_answer_decimal(answers, "economic_life"),
            discount_rate=_answer_decimal(answers, "discount_rate", Decimal("10")),
            growth_rate=_answer_decimal(answers, "growth_rate", Decimal("0")),
        )
    cost = None
    if answers.get("rd_cost") not in (None, ""):
        cost = valuation.CostInputs(
            rd_cost=_answer_decimal(answers, "rd_cost"),
            obsolescence=_answer_decimal(answers, "obsolescence", Decimal("0")),
        )
    return valuation.PatentValuationInput(
        remaining_term_years=_remaining_years(asset) or Decimal("0"),
        family_countries=tuple(asset.family_countries or ()),
        invalidation_history=answers.get("invalidation_history") or "none",
        claim_count=asset.claim_count or 1,
        claim_type=answers.get("claim_type") or "product",
        non_circumventability=int(answers.get("non_circumventability") or 3),
        maturity=answers.get("technical_maturity") or "prototype",
        substitutes=answers.get("substitutes") or "few",
        market_share_percent=_answer_decimal(answers, "market_share", Decimal("0")),
        annual_sales=revenue,
        licensing=answers.get("licensing") or "none",
        income=income,
        cost=cost,
    )


def _value_patent(item: ApplicationAsset) -> dict | None:
    answers = item.valuation_answers or {}
    if not answers:
        return None
    try:
        result = valuation.value_patent(valuation_input(item.asset, answers))
    except (valuation.ValuationError, ArithmeticError, ValueError) as error:
        return {"error": str(error)}
    return result.to_dict()


def _risk_rating_inputs(application: Application) -> tuple[dict, dict]:
    """Risk answers mapped to the rating tables, as each question's ``rating`` link says."""
    choices, values = {}, {}
    for question in _questions(application, QuestionnaireKind.RISK):
        link = question.get("rating") or {}
        answer = application.risk_answers.get(question["code"])
        if answer in (None, "", []):
            continue
        if isinstance(answer, bool):
            answer = "yes" if answer else "no"
        if link.get("table"):
            choices[link["table"]] = str(answer)
        elif link.get("input"):
            values[link["input"]] = str(answer)
    return choices, values


def _derived_rating_inputs(application, insured, valuation_total) -> tuple[dict, dict]:
    choices, values = {}, {}
    version = application.clause_version
    table = _deductible_table(version)
    if table is not None and application.deductible:
        choices[table.code] = application.deductible
    values["aggregate_limit"] = str(application.sum_insured)
    if valuation_total and valuation_total > 0 and application.sum_insured:
        values["pledge_ratio"] = str(
            valuation.loan_to_value_percent(application.sum_insured, valuation_total)
        )
    # A liability scheme is priced by its riskiest patent type (invention over utility model
    # over design): the option with the largest factor among the insured patents.
    for table in version.coefficient_tables.all():
        if table.code != "patent_type":
            continue
        kinds = {i.asset.patent_type for i in insured if i.asset.kind == AssetKind.PATENT}
        options = [o for o in table.options.all() if o.code in kinds]
        if options:
            choices[table.code] = max(options, key=lambda o: o.factor).code
    return choices, values


def application_evaluate(application: Application) -> Evaluation:
    """Value the patents, price the cover and run the product's rules. Stores nothing."""
    insured = _insured(application)
    valuations = {}
    for item in _needs_valuation(application, insured):
        result = _value_patent(item)
        if result is not None:
            valuations[item.asset_id] = result
    points = [
        Decimal(v["point_value"]) for v in valuations.values() if v.get("point_value") is not None
    ]
    scores = [Decimal(v["score"]) for v in valuations.values() if v.get("score") is not None]
    valuation_total = sum(points, Decimal("0")) if points else None

    remaining = [r for r in (_remaining_years(i.asset) for i in insured) if r is not None]
    answers = dict(application.risk_answers or {})
    regions = answers.get("sales_regions") or []
    facts = {
        **answers,
        "sum_insured": str(application.sum_insured),
        "asset_count": len(insured),
        "patent_count": sum(1 for i in insured if i.asset.kind == AssetKind.PATENT),
        "min_remaining_years": str(min(remaining)) if remaining else None,
        "any_right_not_in_force": any(not _in_force(i.asset) for i in insured),
        "valuation_total": str(valuation_total) if valuation_total is not None else None,
        "min_valuation_score": str(min(scores)) if scores else None,
        "sales_usa": "us_ca" in regions,
        "sales_eu": "eu" in regions,
    }
    problems = []
    breakdown = None
    if valuation_total is not None and application.product.value_cap_percent:
        cap = (valuation_total * application.product.value_cap_percent / 100).quantize(CENT)
        facts["value_cap"] = str(cap)
        if application.sum_insured > cap:
            problems.append(
                _(
                    "The sum insured of %(sum)s is above %(percent)s %% of the assessed value "
                    "(%(cap)s)."
                )
                % {
                    "sum": application.sum_insured,
                    "percent": application.product.value_cap_percent,
                    "cap": cap,
                }
            )
    if valuation_total is not None and application.sum_insured:
        facts["loan_to_value"] = str(
            valuation.loan_to_value_percent(application.sum_insured, valuation_total)
        )

    risk_choices, risk_values = _risk_rating_inputs(application)
    derived_choices, derived_values = _derived_rating_inputs(application, insured, valuation_total)
    try:
        breakdown = premium_quote(
            version=application.clause_version,
            limits=application.limits,
            item_count=max(len(insured), 1),
            choices={**risk_choices, **derived_choices},
            values={**risk_values, **derived_values},
            rider_codes=application.rider_codes,
        )
    except DomainError as error:
        problems.append(error.message)

    loaded_rules = [
        rules.Rule(
            code=rule.code,
            outcome=rule.outcome,
            conditions=tuple(rule.conditions),
            reason={"zh": rule.reason_zh, "en": rule.reason_en},
            exclusion=rule.exclusion or {},
        )
        for rule in UnderwritingRule.objects.filter(product=application.product, active=True)
    ]
    decision = rules.evaluate(loaded_rules, facts)
    return Evaluation(
        valuations=valuations,
        valuation_total=valuation_total,
        facts=facts,
        quote=breakdown,
        decision=decision,
        problems=problems,
    )


def breakdown_to_json(result: rating.PremiumBreakdown, version: ClauseVersion) -> dict:
    """The breakdown with bilingual names, as stored on a quote and shown on pages and PDFs."""
    sections = {s.code: s for s in version.rating_sections.all()}
    tables = {t.code: t for t in version.coefficient_tables.all()}
    options = {(t.code, o.code): o for t in tables.values() for o in t.options.all()}
    riders = {f.rider.code: f.rider for f in version.rider_factors.select_related("rider")}

    def bilingual(obj, zh="name_zh", en="name_en"):
        return {"zh": getattr(obj, zh, ""), "en": getattr(obj, en, "")} if obj else {}

    return {
        "sections": [
            {
                "code": s.code,
                "name": bilingual(sections.get(s.code)),
                "limit": str(s.limit),
                "base_rate": str(s.base_rate),
                "count": s.count,
                "coefficients": [
                    {
                        "table": c.table,
                        "table_name": bilingual(tables.get(c.table)),
                        "option": c.option,
                        "option_label": bilingual(
                            options.get((c.table, c.option)), "label_zh", "label_en"
                        ),
                        "factor": str(c.factor),
                    }
                    for c in s.coefficients
                ],
                "coefficient_product": str(s.coefficient_product),
                "premium": str(s.premium),
            }
            for s in result.sections
        ],
        "sections_total": str(result.sections_total),
        "riders": [
            {"code": r.code, "name": bilingual(riders.get(r.code)), "factor": str(r.factor)}
            for r in result.riders
        ],
        "rider_product": str(result.rider_product),
        "after_riders": str(result.after_riders),
        "minimum_premium": str(result.minimum_premium),
        "minimum_applied": result.minimum_applied,
        "total": str(result.total),
    }


# --- Submission and automatic underwriting -----------------------------------------------------


def _frozen_answers(application: Application, insured) -> dict:
    return {
        "product": application.product.code,
        "clause_version": application.clause_version_id,
        "clause_sha256": application.clause_version.text_sha256,
        "assets": [
            {
                "id": item.asset_id,
                "kind": item.asset.kind,
                "number": item.asset.number,
                "title": item.asset.title,
                "valuation_answers": item.valuation_answers,
            }
            for item in insured
        ],
        "limits": application.limits,
        "deductible": application.deductible,
        "riders": application.rider_codes,
        "wished_start": application.wished_start.isoformat() if application.wished_start else None,
        "risk_answers": application.risk_answers,
    }


def answers_hash(frozen: dict) -> str:
    canonical = json.dumps(frozen, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _incomplete_steps(application: Application, insured) -> list[str]:
    done = set(application.completed_steps or [])
    return [
        step["title"]
        for step in application_steps(application, insured)
        if step["key"] != STEP_REVIEW and step["key"] not in done
    ]


def _quote_number(application: Application) -> str:
    sequence = Quote.objects.filter(application=application).count() + 1
    return f"Q{application.reference}-{sequence:02d}"


def _validity_days() -> int:
    return int(getattr(settings, "QUOTE_VALIDITY_DAYS", 30))


def _create_quote(
    application, *, breakdown, version, actor, adjustment=Decimal("0"), exclusions=(), status
) -> Quote:
    technical = breakdown.total
    premium = (technical * (Decimal("100") + adjustment) / Decimal("100")).quantize(
        CENT, rounding=ROUND_HALF_UP
    )
    # A loading or discount never takes the premium under the wording's minimum.
    premium = max(premium, version.minimum_premium)
    for live in Quote.objects.select_for_update().filter(
        application=application, status__in=[QuoteStatus.PENDING_APPROVAL, QuoteStatus.OFFERED]
    ):
        _quote_transition(live, QuoteStatus.SUPERSEDED, actor)
    with acting_as(actor if getattr(actor, "pk", None) else None):
        quote = Quote.objects.create(
            application=application,
            number=_quote_number(application),
            status=status,
            limits=application.limits,
            deductible=application.deductible,
            rider_codes=application.rider_codes,
            sum_insured=application.sum_insured,
            breakdown=breakdown_to_json(breakdown, version),
            technical_premium=technical,
            adjustment_percent=adjustment,
            premium=premium,
            special_exclusions=list(exclusions),
            valid_until=timezone.localdate() + timedelta(days=_validity_days()),
            created_by=actor if getattr(actor, "pk", None) else None,
        )
    if status == QuoteStatus.OFFERED:
        quote_pdf_request(quote)
    return quote


def _store_evaluation(application: Application, evaluation: Evaluation) -> None:
    for asset_id, result in evaluation.valuations.items():
        ApplicationAsset.objects.filter(application=application, asset_id=asset_id).update(
            valuation=result
        )
    application.valuation = {
        "total": str(evaluation.valuation_total) if evaluation.valuation_total else None,
        "assets": {str(k): v for k, v in evaluation.valuations.items()},
    }
    application.rating = (
        breakdown_to_json(evaluation.quote, application.clause_version)
        if evaluation.quote
        else {"problems": evaluation.problems}
    )
    application.rule_results = [h.to_dict() for h in evaluation.decision.hits]
    if evaluation.problems:
        application.rule_results.append(
            {
                "code": "rating",
                "outcome": "refer",
                "reason": {
                    "zh": " ".join(evaluation.problems),
                    "en": " ".join(evaluation.problems),
                },
                "exclusion": {},
            }
        )
    application.save(update_fields=["valuation", "rating", "rule_results", "updated_at"])


def _reasons_text(hits) -> str:
    return "；".join(pick_language(h.reason) for h in hits)


@transaction.atomic
def application_submit(*, application: Application, actor, declaration: bool) -> Application:
    """The applicant declares the answers true; they are frozen and automatic underwriting runs:
    a quote at once, a referral to an underwriter with the reasons, or a decline with them."""
    application = _locked(application)
    require_member(firm=application.firm, user=actor)
    if not declaration:
        raise DomainError(
            _("Confirm that your answers are true and complete before you submit."),
            code="declaration",
        )
    if application.status != ApplicationStatus.DRAFT:
        raise DomainError(_("This application was already submitted."), code="transition")
    insured = _insured(application)
    missing = _incomplete_steps(application, insured)
    if missing:
        raise DomainError(
            _("Complete these steps first: %(steps)s.") % {"steps": ", ".join(missing)},
            code="incomplete",
        )
    frozen = _frozen_answers(application, insured)
    application.frozen_answers = frozen
    application.answers_sha256 = answers_hash(frozen)
    application.declared_at = application.submitted_at = timezone.now()
    application.declared_by = actor
    with acting_as(actor):
        application.save(
            update_fields=[
                "frozen_answers",
                "answers_sha256",
                "declared_at",
                "declared_by",
                "submitted_at",
                "updated_at",
            ]
        )
    _transition(application, ApplicationStatus.SUBMITTED, actor)
    _auto_underwrite(application)
    return application


def _auto_underwrite(application: Application) -> None:
    evaluation = application_evaluate(application)
    _store_evaluation(application, evaluation)
    decision = evaluation.decision
    if evaluation.outcome == "decline":
        reasons = _reasons_text(decision.reasons("decline"))
        _transition(application, ApplicationStatus.DECLINED, None, reasons)
        _notify_applicants(
            application,
            gettext_lazy("Application %(reference)s was declined"),
            gettext_lazy("Reasons: %(reasons)s"),
            reasons=reasons,
        )
        return
    if evaluation.outcome == "refer":
        hits = decision.reasons("refer")
        reasons = "；".join([pick_language(h.reason) for h in hits] + list(evaluation.problems))
        _transition(application, ApplicationStatus.REFERRED, None, reasons)
        _notify_applicants(
            application,
            gettext_lazy("Application %(reference)s is with an underwriter"),
            gettext_lazy("An underwriter will look at it because: %(reasons)s"),
            reasons=reasons,
        )
        notify(
            users=User.objects.filter(
                is_active=True, is_staff=True, groups__name__in=["underwriter", SENIOR_UNDERWRITER]
            ).distinct(),
            title=gettext_lazy("Referral %(reference)s: %(product)s"),
            body=gettext_lazy("Reasons: %(reasons)s"),
            params={
                "reference": application.reference,
                "product": application.product.code,
                "reasons": reasons,
            },
            url=f"/admin/underwriting/application/{application.pk}/change/",
        )
        return
    quote = _create_quote(
        application,
        breakdown=evaluation.quote,
        version=application.clause_version,
        actor=None,
        exclusions=decision.exclusions,
        status=QuoteStatus.OFFERED,
    )
    _transition(application, ApplicationStatus.QUOTED, None, _("Quoted automatically."))
    _notify_applicants(
        application,
        gettext_lazy("Your quote for %(reference)s is ready"),
        gettext_lazy("Premium CNY %(premium)s, valid until %(valid_until)s."),
        premium=f"{quote.premium:,.2f}",
        valid_until=quote.valid_until.isoformat(),
    )


@transaction.atomic
def application_withdraw(*, application: Application, actor, reason: str = "") -> Application:
    application = _locked(application)
    require_member(firm=application.firm, user=actor)
    _transition(application, ApplicationStatus.WITHDRAWN, actor, reason)
    for quote in Quote.objects.select_for_update().filter(
        application=application, status__in=[QuoteStatus.PENDING_APPROVAL, QuoteStatus.OFFERED]
    ):
        _quote_transition(quote, QuoteStatus.WITHDRAWN, actor)
    return application


# --- Underwriters ------------------------------------------------------------------------------


def authority_of(user) -> UnderwriterAuthority | None:
    return UnderwriterAuthority.objects.filter(user=user).first()


def _default_authority() -> Decimal:
    return Decimal(str(getattr(settings, "UNDERWRITER_DEFAULT_AUTHORITY", "1000000")))


def _may_approve(user, sum_insured: Decimal) -> bool:
    if not (user and user.has_perm("underwriting.approve_quote")):
        return False
    authority = authority_of(user)
    return authority is None or authority.max_sum_insured >= sum_insured


@transaction.atomic
def application_assign(*, application: Application, actor, to=None) -> Application:
    _require_underwriter(actor)
    application = _locked(application)
    if application.status not in OPEN_FOR_UNDERWRITERS:
        raise DomainError(_("Only an application under review can be assigned."))
    to = to or actor
    if not _is_underwriter(to):
        raise DomainError(_("%(user)s is not an underwriter.") % {"user": to})
    with acting_as(actor):
        application.assigned_to = to
        application.save(update_fields=["assigned_to", "updated_at"])
    ApplicationEvent.objects.create(
        application=application,
        actor=actor,
        reason=_("Assigned to %(user)s.") % {"user": to.full_name or to.email},
    )
    return application


def _clean_exclusions(exclusions) -> list[dict]:
    cleaned = []
    for number, item in enumerate(exclusions or (), start=1):
        entry = {}
        for key in ("title", "text", "explanation"):
            value = item.get(key) or {}
            if isinstance(value, str):
                value = {"zh": value, "en": ""}
            if not (value.get("zh") or "").strip() and not (value.get("en") or "").strip():
                raise DomainError(
                    _("Special exclusion %(n)d needs a title, a text and an explanation.")
                    % {"n": number}
                )
            entry[key] = {
                "zh": (value.get("zh") or "").strip(),
                "en": (value.get("en") or "").strip(),
            }
        cleaned.append(entry)
    return cleaned


@transaction.atomic
def underwriter_quote(
    *,
    application: Application,
    actor,
    adjustment_percent=Decimal("0"),
    special_exclusions=(),
    limits: dict | None = None,
    note: str = "",
) -> Quote:
    """Terms set by an underwriter on a referred application. Above the underwriter's authority
    the quote waits for a senior underwriter's approval before the applicant sees it.

    ``limits``, when given and not empty, replaces the application's limits as a whole: a
    section left out is no longer covered. None or {} keeps the applicant's limits.
    """
    _require_underwriter(actor)
    application = _locked(application)
    if application.status != ApplicationStatus.REFERRED:
        raise DomainError(_("Only a referred application can be quoted by an underwriter."))
    adjustment = Decimal(str(adjustment_percent or 0)).quantize(CENT)
    authority = authority_of(actor)
    max_adjustment = authority.max_adjustment_percent if authority else Decimal("25")
    if abs(adjustment) > max_adjustment:
        raise DomainError(
            _("Your authority allows loadings and discounts up to %(max)s %%.")
            % {"max": max_adjustment}
        )
    if adjustment <= -100:
        raise DomainError(_("A discount must be below 100 %."))
    if limits:
        clean = {}
        for section in application.clause_version.rating_sections.all():
            raw = limits.get(section.code)
            if raw not in (None, ""):
                amount = _decimal(raw, section.name)
                if amount > 0:
                    clean[section.code] = str(amount.quantize(CENT))
        if not clean:
            raise DomainError(_("Enter a limit for at least one cover section."))
        application.limits = clean
        application.sum_insured = sum_insured_of(
            application.clause_version, clean, application.insured_assets.count()
        )
        application.save(update_fields=["limits", "sum_insured", "updated_at"])
    exclusions = _clean_exclusions(special_exclusions)
    evaluation = application_evaluate(application)
    if evaluation.quote is None:
        raise DomainError(" ".join(evaluation.problems) or _("The premium cannot be computed."))
    # Exclusions the rules added stay: the underwriter adds to them, never silently drops them.
    exclusions = [*evaluation.decision.exclusions, *exclusions]
    if application.assigned_to_id is None:
        application.assigned_to = actor
        application.save(update_fields=["assigned_to", "updated_at"])
    ceiling = authority.max_sum_insured if authority else _default_authority()
    needs_approval = application.sum_insured > ceiling and not _may_approve(
        actor, application.sum_insured
    )
    quote = _create_quote(
        application,
        breakdown=evaluation.quote,
        version=application.clause_version,
        actor=actor,
        adjustment=adjustment,
        exclusions=exclusions,
        status=QuoteStatus.PENDING_APPROVAL if needs_approval else QuoteStatus.OFFERED,
    )
    if needs_approval:
        ApplicationEvent.objects.create(
            application=application,
            actor=actor,
            reason=_("Quote %(number)s awaits a senior underwriter (sum insured above %(max)s).")
            % {"number": quote.number, "max": ceiling},
        )
        notify(
            users=User.objects.filter(
                is_active=True, is_staff=True, groups__name=SENIOR_UNDERWRITER
            ),
            title=gettext_lazy("Quote %(number)s needs your approval"),
            params={"number": quote.number},
            url=f"/admin/underwriting/quote/{quote.pk}/change/",
        )
    else:
        _offer(application, quote, actor, note)
    return quote


def _offer(application: Application, quote: Quote, actor, note: str = "") -> None:
    _transition(
        application,
        ApplicationStatus.QUOTED,
        actor,
        note or _("Quoted by an underwriter."),
    )
    _notify_applicants(
        application,
        gettext_lazy("Your quote for %(reference)s is ready"),
        gettext_lazy("Premium CNY %(premium)s, valid until %(valid_until)s."),
        premium=f"{quote.premium:,.2f}",
        valid_until=quote.valid_until.isoformat(),
    )


@transaction.atomic
def quote_approve(*, quote: Quote, actor) -> Quote:
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    if not actor.has_perm("underwriting.approve_quote"):
        raise PermissionDenied(_("Only a senior underwriter may approve a quote."))
    if not _may_approve(actor, quote.sum_insured):
        raise PermissionDenied(_("Your authority does not cover this sum insured."))
    if quote.created_by_id == actor.pk:
        raise PermissionDenied(_("A quote needs a second underwriter's approval."))
    application = _locked(quote.application)
    _quote_transition(quote, QuoteStatus.OFFERED, actor)
    quote.approved_by = actor
    quote.approved_at = timezone.now()
    quote.valid_until = timezone.localdate() + timedelta(days=_validity_days())
    quote.save(update_fields=["approved_by", "approved_at", "valid_until"])
    quote_pdf_request(quote)
    _offer(application, quote, actor, _("Approved by a senior underwriter."))
    return quote


@transaction.atomic
def quote_reject_approval(*, quote: Quote, actor, reason: str) -> Quote:
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    if not actor.has_perm("underwriting.approve_quote"):
        raise PermissionDenied(_("Only a senior underwriter may do this."))
    if not reason.strip():
        raise DomainError(_("Give the reason."))
    if quote.created_by_id == actor.pk:
        raise PermissionDenied(_("A quote needs a second underwriter's review."))
    _quote_transition(quote, QuoteStatus.REJECTED, actor)
    ApplicationEvent.objects.create(
        application=quote.application,
        actor=actor,
        reason=_("Quote %(number)s was not approved: %(reason)s")
        % {"number": quote.number, "reason": reason},
    )
    notify(
        users=[quote.created_by],
        title=gettext_lazy("Quote %(number)s was not approved"),
        body="%(reason)s",
        params={"number": quote.number, "reason": reason},
        url=f"/admin/underwriting/application/{quote.application_id}/change/",
    )
    return quote


@transaction.atomic
def application_decline(*, application: Application, actor, reasons: str) -> Application:
    _require_underwriter(actor)
    if not reasons.strip():
        raise DomainError(_("Give the reasons for the decline; the applicant reads them."))
    application = _locked(application)
    _transition(application, ApplicationStatus.DECLINED, actor, reasons.strip())
    for quote in Quote.objects.select_for_update().filter(
        application=application, status=QuoteStatus.PENDING_APPROVAL
    ):
        _quote_transition(quote, QuoteStatus.WITHDRAWN, actor)
    _notify_applicants(
        application,
        gettext_lazy("Application %(reference)s was declined"),
        gettext_lazy("Reasons: %(reasons)s"),
        reasons=reasons.strip(),
    )
    return application


@transaction.atomic
def application_ask(*, application: Application, actor, question: str) -> UnderwriterQuestion:
    _require_underwriter(actor)
    if not question.strip():
        raise DomainError(_("Write the question."))
    application = _locked(application)
    _transition(application, ApplicationStatus.INFO_REQUESTED, actor, question.strip())
    asked = UnderwriterQuestion.objects.create(
        application=application, text=question.strip(), asked_by=actor
    )
    _notify_applicants(
        application,
        gettext_lazy("The underwriter has a question about %(reference)s"),
        "%(question)s",
        question=question.strip(),
    )
    return asked


@transaction.atomic
def application_answer_question(
    *, application: Application, actor, question: UnderwriterQuestion, answer: str
) -> Application:
    """The applicant answers every open question and the application returns to the
    underwriter who asked."""
    application = _locked(application)
    require_member(firm=application.firm, user=actor)
    if application.status != ApplicationStatus.INFO_REQUESTED:
        raise DomainError(_("There is no open question on this application."))
    if question.application_id != application.pk or question.answered_at:
        raise DomainError(_("That question is not open."))
    if not answer.strip():
        raise DomainError(_("Write your answer."))
    question.answer = answer.strip()
    question.answered_by = actor
    question.answered_at = timezone.now()
    question.save(update_fields=["answer", "answered_by", "answered_at"])
    if application.questions.filter(answered_at__isnull=True).exists():
        return application
    _transition(application, ApplicationStatus.SUBMITTED, actor, _("Question answered."))
    _transition(application, ApplicationStatus.REFERRED, None, _("Back with the underwriter."))
    notify(
        users=[application.assigned_to or question.asked_by],
        title=gettext_lazy("%(reference)s: the applicant answered"),
        body="%(answer)s",
        params={"reference": application.reference, "answer": answer.strip()},
        url=f"/admin/underwriting/application/{application.pk}/change/",
    )
    return application


# --- The applicant's answer to a quote ---------------------------------------------------------


@transaction.atomic
def quote_accept(*, quote: Quote, actor, acknowledgement) -> Quote:
    """Accepting a quote is part of binding: only with the applicant's complete acknowledgement
    of the exclusions (``services.acknowledgement_record`` writes both)."""
    from underwriting.services.policies import acknowledgement_is_complete

    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    application = _locked(quote.application)
    require_member(firm=application.firm, user=actor)
    if acknowledgement is None or not acknowledgement_is_complete(acknowledgement, quote):
        raise DomainError(
            _("Acknowledge every exclusion before you accept the quote."), code="acknowledgement"
        )
    if quote.status == QuoteStatus.OFFERED and quote.valid_until < timezone.localdate():
        raise DomainError(_("This quote has expired. Ask for a new one."), code="expired")
    if quote.status != QuoteStatus.OFFERED:
        raise DomainError(_("This quote can no longer be accepted."), code="transition")
    _quote_transition(quote, QuoteStatus.ACCEPTED, actor)
    _transition(application, ApplicationStatus.ACCEPTED, actor, quote.number)
    return quote


def quotes_expire(today=None) -> int:
    """Beat: offered quotes past their validity expire, and so do their applications."""
    today = today or timezone.localdate()
    expired = 0
    stale = Quote.objects.filter(status=QuoteStatus.OFFERED, valid_until__lt=today).values_list(
        "pk", flat=True
    )
    for quote_id in list(stale[:1000]):
        with transaction.atomic():
            quote = (
                Quote.objects.select_for_update()
                .filter(pk=quote_id, status=QuoteStatus.OFFERED, valid_until__lt=today)
                .first()
            )
            if quote is None:
                continue
            _quote_transition(quote, QuoteStatus.EXPIRED, None)
            application = _locked(quote.application)
            if application.status == ApplicationStatus.QUOTED:
                _transition(application, ApplicationStatus.EXPIRED, None, quote.number)
                _notify_applicants(
                    application, gettext_lazy("Your quote for %(reference)s has expired")
                )
            expired += 1
    return expired


def quote_pdf_request(quote: Quote) -> None:
    """Mark the PDF as queued (the record) and enqueue its making once the row is committed;
    the sweeper re-enqueues it if the broker was down."""
    Quote.objects.filter(pk=quote.pk).update(pdf_status=DocumentStatus.QUEUED)
    quote.pdf_status = DocumentStatus.QUEUED
    from underwriting.tasks import make_quote_pdf

    quote_id = quote.pk
    transaction.on_commit(lambda: _enqueue_quietly(make_quote_pdf, quote_id))


def _enqueue_quietly(task, *args) -> None:
    try:
        task.delay(*args)
    except Exception:  # noqa: BLE001 - the broker may be down; the sweeper retries later
        import logging

        logging.getLogger(__name__).warning("could not enqueue %s%r", task.name, args)


def stale_quote_pdfs(older_than_minutes: int = 5):
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    return Quote.objects.filter(
        Q(pdf_status=DocumentStatus.QUEUED) & Q(created_at__lt=cutoff)
    ).values_list("pk", flat=True)
