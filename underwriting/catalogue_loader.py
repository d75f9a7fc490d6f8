"""Load the catalogue data files (underwriting/catalogue/*.yaml) into the database.

Idempotent: what exists (by code) is left as it is — after the first load the database is the
record and product managers change it through the admin; a second run changes nothing.

Questionnaires (questionnaires.yaml) are created once per published clause version and never
change afterwards, like the wording they belong to. Underwriting rules (rules.yaml) are not frozen:
they are created or brought up to date by (product, code). Both files are checked against the
clause version's rating tables while loading; an inconsistency raises ``CatalogueError`` naming the
product and the question or rule, and nothing is loaded.
"""

import copy
import functools
import hashlib
import json
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from django.db import transaction

from portal.history import acting_as
from underwriting import rules, services
from underwriting.choices import ClauseStatus, ProductStatus, QuestionnaireKind, RuleOutcome
from underwriting.models import (
    CoefficientOption,
    CoefficientTable,
    Insurer,
    Product,
    ProductInsurer,
    Questionnaire,
    RatingSection,
    Rider,
    RiderFactor,
    UnderwritingRule,
)

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"
ALL_IP_TYPES = [
    "patent",
    "trademark",
    "copyright",
    "geographical_indication",
    "plant_variety",
    "ic_layout",
    "trade_secret",
]

QUESTION_KINDS = ("choice", "multi", "number", "integer", "boolean", "text", "date")
# Rating inputs the services work out themselves, so no question may ask for them: the deductible
# rate (from the chosen deductible), the aggregate limit and the limit ratio (from the limits), the
# pledge ratio (loan ÷ valuation) and the patent type (from the insured patents' records).
DERIVED_RATING_INPUTS = frozenset(
    {"deductible_rate", "aggregate_limit", "limit_ratio", "pledge_ratio", "patent_type"}
)
# Facts the services compute (underwriting.rules, and the value cap of
# services.application_evaluate); every risk answer is a fact under its code too.
COMPUTED_FACTS = frozenset(
    {
        "sum_insured",
        "asset_count",
        "patent_count",
        "min_remaining_years",
        "any_right_not_in_force",
        "valuation_total",
        "min_valuation_score",
        "loan_to_value",
        "sales_usa",
        "sales_eu",
        "value_cap",
    }
)
_QUESTION_KEYS = frozenset(
    {
        "code",
        "kind",
        "label",
        "help",
        "options",
        "min",
        "max",
        "unit",
        "required",
        "group",
        "rating",
        "show_if",
    }
)
_QUESTIONNAIRE_SECTIONS = frozenset({"groups", "valuation_products", "products"}) | {
    kind.value for kind in QuestionnaireKind
}
_PRODUCT_OVERRIDE_KEYS = frozenset({"rating", "options", "extra"})
_RULE_KEYS = frozenset({"code", "outcome", "conditions", "reason", "exclusion"})
_CONDITION_KEYS = frozenset({"fact", "op", "value"})
_QUESTION_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_OPTION_CODE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_RULE_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")


class CatalogueError(ValueError):
    """A catalogue data file is wrong; the message names the file, product and question or rule."""


# libyaml's parser when PyYAML was built with it: the catalogue is ~300 KB of YAML.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(name: str, directory: Path):
    path = Path(directory) / f"{name}.yaml"
    stat = path.stat()
    # Parsed once per process and file version; callers get a deep copy they may change.
    return copy.deepcopy(_parse(str(path), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=32)
def _parse(path: str, mtime_ns: int, size: int):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_LOADER)  # noqa: S506 - a safe loader


def _bilingual(value) -> dict:
    value = value or {}
    return {"zh": str(value.get("zh", "")).strip(), "en": str(value.get("en", "")).strip()}


RECOVERY_METHODS = ("insurer_first", "insured_first", "pro_rata", "percentage")


def _recovery_sharing(value) -> dict:
    if not value:
        return {}
    method = str(value.get("method", ""))
    if method not in RECOVERY_METHODS:
        raise CatalogueError(f"recovery_sharing: method must be one of {RECOVERY_METHODS}")
    percent = Decimal(str(value.get("insurer_percent", "0")))
    if method == "percentage" and not Decimal(0) < percent <= Decimal(100):
        raise CatalogueError("recovery_sharing: a percentage needs 0 < insurer_percent <= 100")
    return {"method": method, "insurer_percent": str(percent)}


def _clause_fields(clause: dict) -> dict:
    effective = clause.get("effective_date") or date(2025, 1, 1)
    if isinstance(effective, str):
        effective = date.fromisoformat(effective)
    return {
        "label": str(clause.get("label") or "2025"),
        "effective_date": effective,
        "insured_object": _bilingual(clause.get("insured_object")),
        "covered_causes": [
            {"title": _bilingual(c.get("title")), "text": _bilingual(c.get("text"))}
            for c in clause.get("covered_causes", [])
        ],
        "exclusions": [
            {
                "title": _bilingual(e.get("title")),
                "text": _bilingual(e.get("text")),
                "explanation": _bilingual(e.get("explanation")),
            }
            for e in clause.get("exclusions", [])
        ],
        "obligations": [_bilingual(o) for o in clause.get("obligations", [])],
        "claim_documents": [
            {
                "code": str(d["code"]),
                "zh": str(d.get("zh", "")),
                "en": str(d.get("en", "")),
                "required": bool(d.get("required", True)),
            }
            for d in clause.get("claim_documents", [])
        ],
        "deductible_rules": _bilingual(clause.get("deductible_rules")),
        "recovery_sharing": _recovery_sharing(clause.get("recovery_sharing")),
        "short_rate_table": [int(p) for p in clause.get("short_rate_table") or []],
    }


def _create_rating(version, rating: dict, riders_by_code: dict) -> None:
    for position, section in enumerate(rating.get("sections", [])):
        RatingSection.objects.create(
            clause_version=version,
            code=section["code"],
            name_zh=section["zh"],
            name_en=section.get("en", ""),
            base_rate=Decimal(str(section["base_rate"])),
            per_item=bool(section.get("per_item", False)),
            limit_options=[str(Decimal(str(v))) for v in section.get("limit_options", [])],
            position=position,
        )
    for position, table in enumerate(rating.get("coefficients", [])):
        table_row = CoefficientTable.objects.create(
            clause_version=version,
            code=table["code"],
            name_zh=table["zh"],
            name_en=table.get("en", ""),
            applies_to=list(table.get("applies_to") or []),
            input_key=table.get("input") or "",
            position=position,
        )
        for option_position, option in enumerate(table.get("options", [])):
            CoefficientOption.objects.create(
                table=table_row,
                code=option["code"],
                label_zh=option["zh"],
                label_en=option.get("en", ""),
                factor=Decimal(str(option["factor"])),
                lower=None if option.get("lower") is None else Decimal(str(option["lower"])),
                upper=None if option.get("upper") is None else Decimal(str(option["upper"])),
                is_default=bool(option.get("default", False)),
                position=option_position,
            )
    for item in rating.get("rider_factors", []):
        rider = riders_by_code.get(item["rider"])
        if rider is not None:
            RiderFactor.objects.create(
                clause_version=version, rider=rider, factor=Decimal(str(item["factor"]))
            )


def _ensure_clause(owner, clause: dict | None, actor, riders_by_code, created: list) -> None:
    if not clause or owner.clause_versions.exists():
        return
    fields = _clause_fields(clause)
    rating = clause.get("rating") or {}
    if rating.get("minimum_premium") is not None:
        fields["minimum_premium"] = Decimal(str(rating["minimum_premium"]))
    kind = {"product": owner} if isinstance(owner, Product) else {"rider": owner}
    version = services.clause_version_create_draft(actor=actor, **kind, **fields)
    if isinstance(owner, Product):
        _create_rating(version, rating, riders_by_code)
    services.clause_version_publish(version=version, actor=actor)
    created.append(f"clause {version}")


@transaction.atomic
def load_catalogue(*, actor=None, directory: Path = CATALOGUE_DIR, only=None) -> list[str]:
    """Load the catalogue; ``only`` (product codes) loads just those products and their riders,
    which keeps tests that need one or two products fast."""
    created: list[str] = []
    insurers_data = _read("insurers", directory)
    products_data = _read("products", directory)
    riders_data = _read("riders", directory)
    if only is not None:
        only = set(only)
        products_data = [spec for spec in products_data if spec["code"] in only]
        riders_data = [spec for spec in riders_data if only & set(spec.get("main", []))]
    with acting_as(actor):
        insurers = {}
        for code, names in insurers_data.items():
            insurer = Insurer.objects.filter(code=code).first()
            if insurer is None:
                insurer = Insurer.objects.create(
                    code=code, name_zh=names["zh"], name_en=names["en"]
                )
                created.append(f"insurer {code}")
            insurers[code] = insurer

        products = {}
        for position, spec in enumerate(products_data):
            product = Product.objects.filter(code=spec["code"]).first()
            if product is None:
                ip_types = spec.get("ip_types") or []
                product = Product.objects.create(
                    code=spec["code"],
                    name_zh=spec["zh"],
                    name_en=spec["en"],
                    summary_zh=_bilingual(spec.get("summary"))["zh"],
                    summary_en=_bilingual(spec.get("summary"))["en"],
                    liability_class=spec["liability_class"],
                    function_class=spec["function_class"],
                    ip_types=ALL_IP_TYPES if "all" in ip_types else ip_types,
                    party=spec["party"],
                    value_cap_percent=(
                        Decimal(str(spec["value_cap_percent"]))
                        if spec.get("value_cap_percent") is not None
                        else None
                    ),
                    position=position,
                )
                shares = spec.get("co_insurance") or {}
                for code in spec.get("insurers", []):
                    share = shares.get(code)
                    ProductInsurer.objects.create(
                        product=product,
                        insurer=insurers[code],
                        share=None if share is None else Decimal(str(share)),
                    )
                created.append(f"product {product.code}")
            products[product.code] = product

        riders = {}
        for spec in riders_data:
            rider = Rider.objects.filter(code=spec["code"]).first()
            if rider is None:
                rider = Rider.objects.create(
                    code=spec["code"],
                    name_zh=spec["zh"],
                    name_en=spec["en"],
                    summary_zh=_bilingual(spec.get("summary"))["zh"],
                    summary_en=_bilingual(spec.get("summary"))["en"],
                )
                rider.main_products.add(
                    *[products[c] for c in spec.get("main", []) if c in products]
                )
                rider.insurers.add(
                    *[insurers[c] for c in spec.get("insurers", []) if c in insurers]
                )
                created.append(f"rider {rider.code}")
            riders[rider.code] = rider

        for spec in riders_data:
            rider = riders[spec["code"]]
            _ensure_clause(rider, spec.get("clause"), actor, riders, created)
            if (
                rider.status == ProductStatus.DRAFT
                and rider.clause_versions.filter(status=ClauseStatus.PUBLISHED).exists()
            ):
                services.rider_publish(rider=rider, actor=actor)
        for spec in products_data:
            product = products[spec["code"]]
            _ensure_clause(product, spec.get("clause"), actor, riders, created)
            if (
                product.status == ProductStatus.DRAFT
                and product.clause_versions.filter(status=ClauseStatus.PUBLISHED).exists()
            ):
                services.product_publish(product=product, actor=actor)
        created += load_questionnaires_and_rules(actor=actor, directory=directory, only=only)
    return created


# --- questionnaires and underwriting rules ------------------------------------------------------


def questionnaire_sha256(questions: list) -> str:
    """SHA-256 of the canonical JSON of a question list (what ``Questionnaire.sha256`` holds)."""
    canonical = json.dumps(questions, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _texts(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise CatalogueError(f"{where}: expected {{zh: ..., en: ...}}, got {value!r}")
    # A YAML word such as "No" or "On" arrives as a boolean: only real strings are texts.
    texts = {
        lang: value[lang].strip() if isinstance(value.get(lang), str) else ""
        for lang in ("zh", "en")
    }
    if not all(texts.values()) or set(value) - {"zh", "en"}:
        raise CatalogueError(f"{where}: needs exactly a non-empty zh and en text, got {value!r}")
    return texts


def _number(value, where: str):
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CatalogueError(f"{where}: {value!r} is not a number")
    if isinstance(value, int):
        return value
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise CatalogueError(f"{where}: {value!r} is not a number") from None
    return int(number) if number == number.to_integral_value() else str(number)


def _options(raw, where: str) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise CatalogueError(f"{where}: a choice question needs a list of options")
    options, seen = [], set()
    for item in raw:
        code = item.get("code") if isinstance(item, dict) else None
        if isinstance(code, int) and not isinstance(code, bool):
            code = str(code)
        if not isinstance(code, str) or not _OPTION_CODE.match(code):
            raise CatalogueError(f"{where}: option code {code!r} must be lower-case a-z 0-9 _")
        if code in seen:
            raise CatalogueError(f"{where}: duplicate option code {code!r}")
        if set(item) - {"code", "label"}:
            raise CatalogueError(f"{where}, option {code!r}: unknown keys {sorted(set(item))}")
        seen.add(code)
        options.append(
            {"code": code, "label": _texts(item.get("label"), f"{where}, option {code!r}")}
        )
    return options


def _rating_link(raw, where: str) -> dict:
    if not isinstance(raw, dict) or len(raw) != 1 or not set(raw) <= {"input", "table"}:
        raise CatalogueError(
            f"{where}: rating must be {{input: key}} or {{table: code}}, got {raw!r}"
        )
    ((key, value),) = raw.items()
    if not isinstance(value, str) or not value:
        raise CatalogueError(f"{where}: rating {key} must name a {key}, got {value!r}")
    if value in DERIVED_RATING_INPUTS:
        raise CatalogueError(
            f"{where}: rating {key} {value!r} is worked out by the services and must not be asked"
        )
    return {key: value}


def _question(raw, where: str) -> dict:
    code = raw.get("code") if isinstance(raw, dict) else None
    if not isinstance(code, str) or not _QUESTION_CODE.match(code):
        raise CatalogueError(f"{where}: question code {code!r} must be lower-case a-z 0-9 _")
    where = f"{where}, question {code!r}"
    unknown = set(raw) - _QUESTION_KEYS
    if unknown:
        raise CatalogueError(f"{where}: unknown keys {sorted(unknown)}")
    kind = raw.get("kind")
    if kind not in QUESTION_KINDS:
        raise CatalogueError(
            f"{where}: unknown question kind {kind!r} (expected one of {', '.join(QUESTION_KINDS)})"
        )
    question = {"code": code, "kind": kind, "label": _texts(raw.get("label"), f"{where}: label")}
    for key in ("help", "group", "unit"):
        if raw.get(key) is not None:
            question[key] = _texts(raw[key], f"{where}: {key}")
    if kind in ("choice", "multi"):
        question["options"] = _options(raw.get("options"), where)
    elif "options" in raw:
        raise CatalogueError(f"{where}: only choice and multi questions have options")
    for bound in ("min", "max"):
        if raw.get(bound) is not None:
            if kind not in ("number", "integer"):
                raise CatalogueError(f"{where}: only number and integer questions have {bound}")
            question[bound] = _number(raw[bound], f"{where}: {bound}")
    if (
        "min" in question
        and "max" in question
        and Decimal(str(question["min"])) > Decimal(str(question["max"]))
    ):
        raise CatalogueError(f"{where}: min is above max")
    required = raw.get("required", True)
    if not isinstance(required, bool):
        raise CatalogueError(f"{where}: required must be true or false")
    question["required"] = required
    if raw.get("show_if") is not None:
        show_if = raw["show_if"]
        if (
            not isinstance(show_if, dict)
            or set(show_if) != {"question", "equals"}
            or not isinstance(show_if["question"], str)
        ):
            raise CatalogueError(f"{where}: show_if must be {{question: code, equals: value}}")
        question["show_if"] = {"question": show_if["question"], "equals": show_if["equals"]}
    # Insurance Law art. 16: only specific questions bind the applicant. Free text may only ask
    # for the details of something the applicant has just said exists.
    if kind == "text" and "show_if" not in question:
        raise CatalogueError(
            f"{where}: a text question must depend on another answer (show_if); "
            "an open question would be a catch-all question"
        )
    if raw.get("rating") is not None:
        question["rating"] = _rating_link(raw["rating"], where)
    return question


def _check_question_list(questions: list[dict], where: str) -> None:
    seen: dict[str, dict] = {}
    for question in questions:
        code = question["code"]
        if code in seen:
            raise CatalogueError(f"{where}: duplicate question code {code!r}")
        show_if = question.get("show_if")
        if show_if and show_if["question"] not in seen:
            raise CatalogueError(
                f"{where}, question {code!r}: show_if names {show_if['question']!r}, "
                "which is not an earlier question"
            )
        seen[code] = question


def _question_list(raw, where: str) -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise CatalogueError(f"{where}: expected a non-empty list of questions")
    questions = [_question(item, where) for item in raw]
    _check_question_list(questions, where)
    return questions


def _risk_questions(base: list[dict], override, where: str) -> list[dict]:
    """The base risk questions adapted to one product: extra questions, options, rating links."""
    questions = copy.deepcopy(base)
    if override is None:
        return questions
    if not isinstance(override, dict) or set(override) - _PRODUCT_OVERRIDE_KEYS:
        raise CatalogueError(
            f"{where}: expected only {', '.join(sorted(_PRODUCT_OVERRIDE_KEYS))}, got {override!r}"
        )
    for raw in override.get("extra") or []:
        raw = dict(raw) if isinstance(raw, dict) else raw
        after = raw.pop("after", None) if isinstance(raw, dict) else None
        question = _question(raw, where)
        codes = [q["code"] for q in questions]
        if after is None:
            questions.append(question)
        elif after in codes:
            questions.insert(codes.index(after) + 1, question)
        else:
            raise CatalogueError(
                f"{where}, question {question['code']!r}: after names an unknown question {after!r}"
            )
    _check_question_list(questions, where)
    by_code = {q["code"]: q for q in questions}
    for code, options in (override.get("options") or {}).items():
        question = by_code.get(code)
        if question is None:
            raise CatalogueError(f"{where}: options given for an unknown question {code!r}")
        if question["kind"] not in ("choice", "multi"):
            raise CatalogueError(f"{where}, question {code!r}: only choice questions have options")
        question["options"] = _options(options, f"{where}, question {code!r}")
    for code, link in (override.get("rating") or {}).items():
        question = by_code.get(code)
        if question is None:
            raise CatalogueError(f"{where}: rating link given for an unknown question {code!r}")
        question["rating"] = _rating_link(link, f"{where}, question {code!r}")
    return questions


def _check_rating_links(questions: list[dict], version, where: str) -> None:
    """Every rating link names a table (or a table's input) of this clause version, and a choice
    question offers exactly the table's option codes."""
    tables = list(version.coefficient_tables.prefetch_related("options"))
    for question in questions:
        link = question.get("rating")
        if not link:
            continue
        at = f"{where}, question {question['code']!r}"
        if "input" in link:
            linked = [t for t in tables if t.input_key == link["input"]]
            if not linked:
                raise CatalogueError(
                    f"{at}: rating input {link['input']!r}: clause version {version} has no "
                    "coefficient table with that input"
                )
        else:
            linked = [t for t in tables if t.code == link["table"]]
            if not linked:
                raise CatalogueError(
                    f"{at}: rating table {link['table']!r}: clause version {version} has no "
                    "such coefficient table"
                )
        for table in linked:
            options = list(table.options.all())
            banded = any(o.lower is not None or o.upper is not None for o in options)
            if banded:
                if "table" in link or question["kind"] not in ("number", "integer"):
                    raise CatalogueError(
                        f"{at}: table {table.code!r} has numeric bands; link a number or "
                        "integer question to it by its input"
                    )
                continue
            if question["kind"] != "choice":
                raise CatalogueError(
                    f"{at}: table {table.code!r} is chosen by option code; "
                    "link a choice question to it"
                )
            asked = {o["code"] for o in question["options"]}
            expected = {o.code for o in options}
            if asked != expected:
                raise CatalogueError(
                    f"{at}: options differ from table {table.code!r}: "
                    f"missing {sorted(expected - asked)}, unknown {sorted(asked - expected)}"
                )


def _rule(raw, where: str) -> dict:
    code = raw.get("code") if isinstance(raw, dict) else None
    if not isinstance(code, str) or not _RULE_CODE.match(code):
        raise CatalogueError(f"{where}: rule code {code!r} must be a slug of at most 60 characters")
    where = f"{where}, rule {code!r}"
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise CatalogueError(f"{where}: unknown keys {sorted(unknown)}")
    conditions = []
    for condition in raw.get("conditions") or []:
        if not isinstance(condition, dict) or set(condition) - _CONDITION_KEYS:
            raise CatalogueError(f"{where}: a condition is {{fact, op, value}}, got {condition!r}")
        conditions.append(
            {
                "fact": condition.get("fact"),
                "op": condition.get("op", "eq"),
                "value": condition.get("value"),
            }
        )
    outcome = raw.get("outcome")
    reason = _texts(raw.get("reason"), f"{where}: reason")
    exclusion = {}
    if raw.get("exclusion"):
        if outcome != RuleOutcome.EXCLUDE:
            raise CatalogueError(f"{where}: only an exclude rule has an exclusion")
        exclusion = {
            key: _texts((raw["exclusion"] or {}).get(key), f"{where}: exclusion {key}")
            for key in ("title", "text", "explanation")
        }
    try:
        rules.validate_rule(
            rules.Rule(
                code=code,
                outcome=outcome,
                conditions=tuple(conditions),
                reason=reason,
                exclusion=exclusion,
            )
        )
    except rules.RuleError as error:
        raise CatalogueError(f"{where}: {error}") from None
    return {
        "code": code,
        "outcome": outcome,
        "conditions": conditions,
        "reason": reason,
        "exclusion": exclusion,
    }


def _product_rules(default: list[dict], spec, facts: set[str], where: str):
    """The default rules less the disabled ones, plus the product's own; and the disabled codes."""
    spec = spec or {}
    if not isinstance(spec, dict) or set(spec) - {"add", "disable"}:
        raise CatalogueError(f"{where}: expected only add and disable, got {spec!r}")
    disabled = list(spec.get("disable") or [])
    default_codes = {rule["code"] for rule in default}
    for code in disabled:
        if code not in default_codes:
            raise CatalogueError(f"{where}: disable names an unknown default rule {code!r}")
    product_rules = [copy.deepcopy(r) for r in default if r["code"] not in disabled]
    product_rules += [_rule(raw, where) for raw in spec.get("add") or []]
    seen = set()
    for rule in product_rules:
        if rule["code"] in seen:
            raise CatalogueError(f"{where}: duplicate rule code {rule['code']!r}")
        seen.add(rule["code"])
        for condition in rule["conditions"]:
            if condition["fact"] not in facts:
                raise CatalogueError(
                    f"{where}, rule {rule['code']!r}: unknown fact {condition['fact']!r} "
                    "(neither a computed fact nor a risk question of this product)"
                )
    return product_rules, disabled


def _section(data, name: str, key: str, kind: type):
    value = data.get(key)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise CatalogueError(f"{name}: {key} must be a {kind.__name__}")
    return value


def _check_products(codes, known: set[str], where: str) -> None:
    unknown = sorted(set(codes) - known)
    if unknown:
        raise CatalogueError(f"{where}: unknown product codes {unknown}")


def _ensure_rules(product, product_rules: list[dict], disabled: list[str], created: list) -> None:
    existing = {rule.code: rule for rule in UnderwritingRule.objects.filter(product=product)}
    for position, spec in enumerate(product_rules):
        fields = {
            "position": position,
            "conditions": spec["conditions"],
            "outcome": spec["outcome"],
            "reason_zh": spec["reason"]["zh"],
            "reason_en": spec["reason"]["en"],
            "exclusion": spec["exclusion"],
            "active": True,
        }
        rule = existing.get(spec["code"])
        if rule is None:
            UnderwritingRule.objects.create(product=product, code=spec["code"], **fields)
            created.append(f"rule {product.code}:{spec['code']}")
        elif any(getattr(rule, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(rule, name, value)
            rule.save()
            created.append(f"rule {product.code}:{spec['code']} (updated)")
    for code in disabled:
        rule = existing.get(code)
        if rule is not None and rule.active:
            rule.active = False
            rule.save(update_fields=["active"])
            created.append(f"rule {product.code}:{code} (disabled)")


@transaction.atomic
def load_questionnaires_and_rules(
    *, actor=None, directory: Path = CATALOGUE_DIR, only=None
) -> list[str]:
    """Questionnaires and underwriting rules for every product with a published clause version.

    The risk questionnaire goes to every product, the valuation questionnaire to the products in
    ``valuation_products``; both are created only where missing, on the product's current
    published version. Rules are created or updated by (product, code).
    """
    created: list[str] = []
    q_file, r_file = "questionnaires.yaml", "rules.yaml"
    questionnaires = _read("questionnaires", directory) or {}
    rules_data = _read("rules", directory) or {}
    if not isinstance(questionnaires, dict) or not isinstance(rules_data, dict):
        raise CatalogueError(f"{q_file} and {r_file} must each hold a mapping")
    unknown = set(questionnaires) - _QUESTIONNAIRE_SECTIONS
    if unknown:
        raise CatalogueError(
            f"{q_file}: unknown questionnaire kind or section {sorted(unknown)} (expected "
            f"{', '.join(sorted(_QUESTIONNAIRE_SECTIONS))})"
        )
    unknown = set(rules_data) - {"shared", "default", "products"}
    if unknown:
        raise CatalogueError(f"{r_file}: unknown sections {sorted(unknown)}")

    valuation = _question_list(questionnaires.get("valuation"), f"{q_file}, valuation")
    risk = _question_list(questionnaires.get("risk"), f"{q_file}, risk")
    overrides = _section(questionnaires, q_file, "products", dict)
    valuation_products = _section(questionnaires, q_file, "valuation_products", list)
    default_rules = [_rule(raw, f"{r_file}, default") for raw in rules_data.get("default") or []]
    seen = set()
    for rule in default_rules:
        if rule["code"] in seen:
            raise CatalogueError(f"{r_file}, default: duplicate rule code {rule['code']!r}")
        seen.add(rule["code"])
    product_specs = _section(rules_data, r_file, "products", dict)

    products = {p.code: p for p in Product.objects.order_by("position", "code")}
    # Codes are checked against the whole catalogue file, so a partial load (``only``) still
    # catches a misspelt product code.
    known = set(products) | {spec["code"] for spec in _read("products", directory) or []}
    _check_products(overrides, known, f"{q_file}, products")
    _check_products(valuation_products, known, f"{q_file}, valuation_products")
    _check_products(product_specs, known, f"{r_file}, products")
    if only is not None:
        products = {code: p for code, p in products.items() if code in set(only)}

    with acting_as(actor):
        for code, product in products.items():
            version = (
                product.clause_versions.filter(status=ClauseStatus.PUBLISHED)
                .order_by("-number")
                .first()
            )
            if version is None:
                continue
            where = f"{q_file}, product {code}"
            risk_questions = _risk_questions(risk, overrides.get(code), f"{where}, risk")
            kinds = {QuestionnaireKind.RISK: risk_questions}
            if code in valuation_products:
                kinds[QuestionnaireKind.VALUATION] = copy.deepcopy(valuation)
            for kind, questions in kinds.items():
                _check_rating_links(questions, version, f"{where}, {kind.value}")
                if not Questionnaire.objects.filter(clause_version=version, kind=kind).exists():
                    Questionnaire.objects.create(
                        clause_version=version,
                        kind=kind,
                        questions=questions,
                        sha256=questionnaire_sha256(questions),
                    )
                    created.append(f"questionnaire {version} {kind.value}")
            facts = set(COMPUTED_FACTS) | {q["code"] for q in risk_questions}
            product_rules, disabled = _product_rules(
                default_rules, product_specs.get(code), facts, f"{r_file}, product {code}"
            )
            _ensure_rules(product, product_rules, disabled, created)
    return created
