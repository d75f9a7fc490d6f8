"""Catalogue operations: drafting, publishing and withdrawing wording and products, and pricing.

Every write to products, riders, clause versions and their rating tables goes through here; the
admin and the pages only call these functions.
"""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.errors import DomainError
from portal.history import acting_as
from underwriting import rating
from underwriting.choices import (
    CLAUSE_TRANSITIONS,
    PRODUCT_TRANSITIONS,
    ClauseStatus,
    ProductStatus,
)
from underwriting.clause_text import render_clause_text, sha256_text
from underwriting.models import (
    ClauseVersion,
    Product,
    PublishedClauseError,
    Rider,
)

WORDING_FIELDS = (
    "label",
    "effective_date",
    "insured_object",
    "covered_causes",
    "exclusions",
    "obligations",
    "claim_documents",
    "deductible_rules",
    "recovery_sharing",
    "short_rate_table",
    "minimum_premium",
)


def _lock_version(version: ClauseVersion) -> ClauseVersion:
    return ClauseVersion.objects.select_for_update().get(pk=version.pk)


def _require_draft(version: ClauseVersion) -> None:
    if version.status != ClauseStatus.DRAFT:
        raise DomainError(
            _(
                "%(version)s is published; its wording and rating can no longer change. "
                "Start a new draft."
            )
            % {"version": version},
            code="published",
        )


__all__ = [
    "clause_version_text",
    "rating_snapshot",
    "clause_version_snapshot",
    "clause_versions_compare",
    "clause_version_create_draft",
    "clause_version_update",
    "rating_row_save",
    "rating_row_delete",
    "clause_version_problems",
    "clause_version_publish",
    "product_publish",
    "product_withdraw",
    "rider_publish",
    "rider_withdraw",
    "premium_quote",
]


# --- Text, snapshot, comparison ---------------------------------------------------------------


def clause_version_text(version: ClauseVersion) -> str:
    owner = version.owner
    return render_clause_text(
        title={"zh": owner.name_zh, "en": owner.name_en},
        label=version.label,
        effective_date=version.effective_date.isoformat(),
        insured_object=version.insured_object,
        covered_causes=version.covered_causes,
        exclusions=version.exclusions,
        obligations=version.obligations,
        claim_documents=version.claim_documents,
        deductible_rules=version.deductible_rules,
        short_rate_table=version.short_rate_table,
    )


def rating_snapshot(version: ClauseVersion) -> dict:
    sections = [
        {
            "code": s.code,
            "name": {"zh": s.name_zh, "en": s.name_en},
            "base_rate": str(s.base_rate),
            "per_item": s.per_item,
            "limit_options": list(s.limit_options),
        }
        for s in version.rating_sections.all()
    ]
    tables = [
        {
            "code": t.code,
            "name": {"zh": t.name_zh, "en": t.name_en},
            "applies_to": list(t.applies_to),
            "input": t.input_key,
            "options": [
                {
                    "code": o.code,
                    "label": {"zh": o.label_zh, "en": o.label_en},
                    "factor": str(o.factor),
                    "lower": None if o.lower is None else str(o.lower),
                    "upper": None if o.upper is None else str(o.upper),
                    "default": o.is_default,
                }
                for o in t.options.all()
            ],
        }
        for t in version.coefficient_tables.prefetch_related("options")
    ]
    riders = [
        {"rider": f.rider.code, "factor": str(f.factor)}
        for f in version.rider_factors.select_related("rider").order_by("rider__code")
    ]
    return {"sections": sections, "coefficients": tables, "rider_factors": riders}


def clause_version_snapshot(version: ClauseVersion) -> dict:
    data = {name: getattr(version, name) for name in WORDING_FIELDS}
    data["effective_date"] = version.effective_date.isoformat()
    data["minimum_premium"] = str(version.minimum_premium)
    data["rating"] = rating_snapshot(version)
    return data


def clause_versions_compare(old: ClauseVersion, new: ClauseVersion):
    from underwriting.clause_diff import diff_versions

    return diff_versions(clause_version_snapshot(old), clause_version_snapshot(new))


# --- Drafting --------------------------------------------------------------------------------


@transaction.atomic
def clause_version_create_draft(
    *, actor, product: Product | None = None, rider: Rider | None = None, **fields
) -> ClauseVersion:
    """A new draft, copied from the latest version (wording and rating) when there is one."""
    if (product is None) == (rider is None):
        raise DomainError(_("A clause version belongs to a product or to a rider."))
    owner_filter = {"product": product} if product else {"rider": rider}
    versions = ClauseVersion.objects.select_for_update().filter(**owner_filter).order_by("-number")
    latest = versions.first()
    if latest is not None and latest.status == ClauseStatus.DRAFT:
        raise DomainError(
            _("%(version)s is still a draft: edit it instead of starting another.")
            % {"version": latest},
            code="draft_exists",
        )
    with acting_as(actor):
        draft = ClauseVersion(**owner_filter, number=(latest.number + 1) if latest else 1)
        if latest is not None:
            for name in WORDING_FIELDS:
                setattr(draft, name, getattr(latest, name))
            draft.based_on = latest
        for name, value in fields.items():
            setattr(draft, name, value)
        draft.status = ClauseStatus.DRAFT
        draft.full_clean(exclude=["text_sha256"])
        draft.save()
        if latest is not None:
            _copy_rating(latest, draft)
    return draft


def _copy_rating(source: ClauseVersion, target: ClauseVersion) -> None:
    for section in source.rating_sections.all():
        section.pk = None
        section.clause_version = target
        section.save()
    for table in source.coefficient_tables.prefetch_related("options"):
        options = list(table.options.all())
        table.pk = None
        table.clause_version = target
        table.save()
        for option in options:
            option.pk = None
            option.table = table
            option.save()
    for factor in source.rider_factors.all():
        factor.pk = None
        factor.clause_version = target
        factor.save()


@transaction.atomic
def clause_version_update(*, version: ClauseVersion, actor, **fields) -> ClauseVersion:
    version = _lock_version(version)
    _require_draft(version)
    unknown = set(fields) - set(WORDING_FIELDS)
    if unknown:
        raise DomainError(f"Unknown clause fields: {', '.join(sorted(unknown))}")
    with acting_as(actor):
        for name, value in fields.items():
            setattr(version, name, value)
        version.full_clean(exclude=["text_sha256"])
        version.save()
    return version


def rating_row_save(*, row, actor):
    """Save a rating section, coefficient table or option, or rider factor of a draft version."""
    try:
        with acting_as(actor), transaction.atomic():
            row.full_clean()
            row.save()
    except ValidationError as error:
        raise DomainError(" ".join(error.messages), code="invalid") from None
    except PublishedClauseError:
        raise DomainError(
            _("The rating table of a published clause version is frozen."), code="published"
        ) from None
    return row


def rating_row_delete(*, row, actor):
    try:
        with acting_as(actor), transaction.atomic():
            row.delete()
    except PublishedClauseError:
        raise DomainError(
            _("The rating table of a published clause version is frozen."), code="published"
        ) from None


# --- Publishing ---------------------------------------------------------------------------------


def clause_version_problems(version: ClauseVersion) -> list[str]:
    """Why a draft cannot be published yet; empty when it can."""
    problems = []

    def bilingual(value):
        return isinstance(value, dict) and all(
            str(value.get(k) or "").strip() for k in ("zh", "en")
        )

    if not bilingual(version.insured_object):
        problems.append(_("The insured object needs a Chinese and an English text."))
    if not version.covered_causes:
        problems.append(_("At least one covered cause is needed."))
    for number, cause in enumerate(version.covered_causes, 1):
        if not (bilingual(cause.get("title")) and bilingual(cause.get("text"))):
            problems.append(
                _("Covered cause %(n)s needs a title and a text in both languages.") % {"n": number}
            )
    if not version.exclusions:
        problems.append(_("At least one exclusion is needed."))
    for number, item in enumerate(version.exclusions, 1):
        if not all(bilingual(item.get(key)) for key in ("title", "text", "explanation")):
            problems.append(
                _(
                    "Exclusion %(n)s needs a title, the clause text and a plain-language "
                    "explanation in both languages."
                )
                % {"n": number}
            )
    for number, item in enumerate(version.obligations, 1):
        if not bilingual(item):
            problems.append(_("Obligation %(n)s needs both languages.") % {"n": number})
    if not version.claim_documents:
        problems.append(_("The claim document checklist is empty."))
    codes = [doc.get("code") for doc in version.claim_documents]
    if len(set(codes)) != len(codes) or not all(codes):
        problems.append(_("Every claim document needs its own code."))
    table = version.short_rate_table
    if (
        not isinstance(table, list)
        or len(table) != 12
        or any(not isinstance(p, int | float) or p < 0 or p > 100 for p in table)
        or any(b < a for a, b in zip(table, table[1:], strict=False))
        or table[-1] != 100
    ):
        problems.append(
            _("The short-period rate table needs 12 non-decreasing percentages ending at 100.")
        )
    if version.product_id:
        sections = list(version.rating_sections.all())
        if not sections:
            problems.append(_("A product's clause version needs at least one rating section."))
        for table_row in version.coefficient_tables.prefetch_related("options"):
            options = list(table_row.options.all())
            if not options:
                problems.append(
                    _("Coefficient table %(code)s has no options.") % {"code": table_row.code}
                )
            if sum(1 for o in options if o.is_default) > 1:
                problems.append(
                    _("Coefficient table %(code)s has more than one default.")
                    % {"code": table_row.code}
                )
    return problems


@transaction.atomic
def clause_version_publish(*, version: ClauseVersion, actor) -> ClauseVersion:
    version = _lock_version(version)
    if ClauseStatus.PUBLISHED not in CLAUSE_TRANSITIONS[ClauseStatus(version.status)]:
        raise DomainError(
            _("%(version)s is already published.") % {"version": version}, code="published"
        )
    problems = clause_version_problems(version)
    if problems:
        raise DomainError(" ".join(problems), code="incomplete")
    with acting_as(actor):
        version.text_sha256 = sha256_text(clause_version_text(version))
        version.status = ClauseStatus.PUBLISHED
        version.published_at = timezone.now()
        version.published_by = actor if getattr(actor, "pk", None) else None
        version.save(update_fields=["text_sha256", "status", "published_at", "published_by"])
    return version


def _transition(obj, target: str, actor):
    if target not in PRODUCT_TRANSITIONS[ProductStatus(obj.status)]:
        raise DomainError(
            _("%(item)s cannot go from %(old)s to %(new)s.")
            % {"item": obj, "old": obj.get_status_display(), "new": ProductStatus(target).label},
            code="transition",
        )
    with acting_as(actor):
        obj.status = target
        obj.save(update_fields=["status"])
    return obj


@transaction.atomic
def product_publish(*, product: Product, actor) -> Product:
    product = Product.objects.select_for_update().get(pk=product.pk)
    if not product.clause_versions.filter(status=ClauseStatus.PUBLISHED).exists():
        raise DomainError(
            _("Publish a clause version of %(product)s first.") % {"product": product}
        )
    shares = list(product.insurer_shares.all())
    if not shares:
        raise DomainError(_("Name at least one insurer of %(product)s.") % {"product": product})
    given = [s.share for s in shares if s.share is not None]
    if given and (len(given) != len(shares) or sum(given) != Decimal("100")):
        raise DomainError(
            _(
                "Co-insurance shares of %(product)s must be given for every insurer and "
                "add up to 100 %%."
            )
            % {"product": product},
            code="co_insurance",
        )
    return _transition(product, ProductStatus.PUBLISHED, actor)


@transaction.atomic
def product_withdraw(*, product: Product, actor) -> Product:
    product = Product.objects.select_for_update().get(pk=product.pk)
    return _transition(product, ProductStatus.WITHDRAWN, actor)


@transaction.atomic
def rider_publish(*, rider: Rider, actor) -> Rider:
    rider = Rider.objects.select_for_update().get(pk=rider.pk)
    if not rider.clause_versions.filter(status=ClauseStatus.PUBLISHED).exists():
        raise DomainError(_("Publish a clause version of %(rider)s first.") % {"rider": rider})
    return _transition(rider, ProductStatus.PUBLISHED, actor)


@transaction.atomic
def rider_withdraw(*, rider: Rider, actor) -> Rider:
    rider = Rider.objects.select_for_update().get(pk=rider.pk)
    return _transition(rider, ProductStatus.WITHDRAWN, actor)


# --- Pricing ---------------------------------------------------------------------------------


def _decimal(value, what: str) -> Decimal:
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        raise DomainError(_("%(what)s must be a number.") % {"what": what}, code="number") from None
    if not number.is_finite() or number < 0:
        raise DomainError(_("%(what)s must be zero or more.") % {"what": what}, code="number")
    return number


def _coefficient_input(table, option) -> rating.CoefficientInput:
    return rating.CoefficientInput(
        table=table.code,
        option=option.code,
        factor=option.factor,
        applies_to=frozenset(table.applies_to or ()),
    )


def _option_for_answer(table, options, answer):
    """The option an applicant's answer selects: by band for numbers, by code otherwise."""
    if not any(o.lower is not None or o.upper is not None for o in options):
        chosen = next((o for o in options if o.code == answer), None)
        if chosen is None:
            raise DomainError(_("Unknown option for %(table)s.") % {"table": table.name})
        return chosen
    value = _decimal(answer, table.name)
    bands = [rating.Band(o.code, o.factor, o.lower, o.upper) for o in options]
    try:
        picked = rating.pick_band(bands, value)
    except rating.RatingError:
        raise DomainError(
            _("%(value)s is outside every band of %(table)s.")
            % {"value": value, "table": table.name}
        ) from None
    return next(o for o in options if o.code == picked.code)


def premium_quote(
    *,
    version: ClauseVersion,
    limits: dict,
    item_count: int = 1,
    choices: dict | None = None,
    values: dict | None = None,
    rider_codes=(),
):
    """Price a published (or draft, for the product manager's preview) clause version.

    ``limits`` maps section code → limit; ``choices`` maps coefficient table → option code;
    ``values`` maps a table's input key → an answer: a number that selects a band (annual
    sales ...) or, for a table without bands, an option code (industry ...).
    Tables without a choice or value use their default option, else a factor of 1.
    """
    choices = choices or {}
    values = values or {}
    # Skips whatever the caller already prefetched (the product page), so a quote costs a fixed
    # number of queries either way.
    prefetch_related_objects(
        [version], "rating_sections", "coefficient_tables__options", "rider_factors__rider"
    )
    if item_count < 1 or item_count > 10000:
        raise DomainError(_("The number of insured rights must be between 1 and 10,000."))
    sections = []
    for section in version.rating_sections.all():
        if section.code not in limits or limits[section.code] in ("", None):
            continue
        limit = _decimal(limits[section.code], section.name)
        sections.append(
            rating.SectionInput(
                code=section.code,
                base_rate=section.base_rate,
                limit=limit,
                count=item_count if section.per_item else 1,
            )
        )
    if not sections:
        raise DomainError(_("Enter a limit for at least one cover section."))
    coefficients = []
    # .all() so that a caller's prefetch_related (the product page) is reused, not re-queried.
    for table in version.coefficient_tables.all():
        options = list(table.options.all())
        chosen = None
        if table.code in choices and choices[table.code]:
            chosen = next((o for o in options if o.code == choices[table.code]), None)
            if chosen is None:
                raise DomainError(_("Unknown option for %(table)s.") % {"table": table.name})
        elif table.input_key and values.get(table.input_key) not in (None, ""):
            chosen = _option_for_answer(table, options, values[table.input_key])
        else:
            chosen = next((o for o in options if o.is_default), None)
        if chosen is None:
            continue
        coefficients.append(_coefficient_input(table, chosen))
    rider_inputs = []
    # A withdrawn or draft rider cannot be bought even if its loading is still on the table.
    factors = {
        f.rider.code: f.factor
        for f in version.rider_factors.all()
        if f.rider.status == ProductStatus.PUBLISHED
    }
    for code in rider_codes:
        if code not in factors:
            raise DomainError(
                _("Rider %(code)s is not offered with this product.") % {"code": code}
            )
        rider_inputs.append(rating.RiderInput(code=code, factor=factors[code]))
    try:
        return rating.compute_premium(sections, coefficients, rider_inputs, version.minimum_premium)
    except rating.RatingError as error:
        raise DomainError(
            _("The premium cannot be computed: %(reason)s") % {"reason": error}
        ) from None
