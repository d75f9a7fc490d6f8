"""The shipped questionnaires and underwriting rules: complete, linked to the rating tables,
specific (no catch-all question), valid, idempotent to load, and rejected when broken."""

import hashlib
import json

import pytest
import yaml

from underwriting import rules
from underwriting.catalogue_loader import CATALOGUE_DIR
from underwriting.models import (
    ClauseVersion,
    Product,
    Questionnaire,
    UnderwritingRule,
)

FULL_PRODUCTS = [
    "PAT-ENF",
    "PAT-INF-LIAB",
    "PAT-INF-LOSS",
    "TM-INF-LOSS",
    "IP-PLEDGE",
    "IP-OVS-LIAB",
    "RD-COST",
]
VALUATION_CODES = [
    "invalidation_history",
    "claim_type",
    "non_circumventability",
    "technical_maturity",
    "substitutes",
    "market_share",
    "revenue_attributable",
    "licensing",
    "royalty_rate",
    "economic_life",
    "discount_rate",
    "growth_rate",
    "rd_cost",
    "obsolescence",
]
RISK_CODES = {
    "industry",
    "annual_sales",
    "management",
    "suits_last_5_years",
    "known_dispute",
    "known_dispute_details",
    "warning_letters",
    "invalidation_requests",
    "sales_regions",
    "fto_report",
    "npe_exposure",
    "group_scheme",
}
# Worked out by the services, never asked: by table input, or (patent_type) by table code.
DERIVED = {"deductible_rate", "aggregate_limit", "limit_ratio", "pledge_ratio", "patent_type"}
DATA_FILES = ["insurers", "products", "riders", "questionnaires", "rules"]


@pytest.fixture
def seeded(seeded_catalogue, db):
    """Read-only tests share the module's catalogue."""


def _data(name):
    with open(CATALOGUE_DIR / f"{name}.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _version(code):
    return ClauseVersion.objects.get(product__code=code, status="published")


def _questions(code, kind="risk"):
    return Questionnaire.objects.get(clause_version=_version(code), kind=kind).questions


def _by_code(questions):
    return {q["code"]: q for q in questions}


def _rules(code):
    return [
        rules.Rule(
            code=r.code,
            outcome=r.outcome,
            conditions=tuple(r.conditions),
            reason={"zh": r.reason_zh, "en": r.reason_en},
            exclusion=r.exclusion,
        )
        for r in UnderwritingRule.objects.filter(product__code=code, active=True)
    ]


# --- questionnaires ---------------------------------------------------------------------------


def test_every_published_product_has_a_risk_questionnaire(seeded):
    for product in Product.objects.filter(status="published"):
        version = product.clause_versions.get(status="published")
        questionnaire = version.questionnaires.get(kind="risk")
        assert {q["code"] for q in questionnaire.questions} >= RISK_CODES, product.code
        canonical = json.dumps(questionnaire.questions, sort_keys=True, ensure_ascii=False)
        assert questionnaire.sha256 == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_valuation_products_have_exactly_the_valuation_questions(seeded):
    valuation_products = set(_data("questionnaires")["valuation_products"])
    assert {"PAT-INF-LOSS", "IP-PLEDGE", "PAT-PLEDGE", "PAT-ENF", "PAT-INF-LIAB"} <= (
        valuation_products
    )
    for product in Product.objects.all():
        version = product.clause_versions.get(status="published")
        questionnaire = version.questionnaires.filter(kind="valuation").first()
        if product.code in valuation_products:
            assert [q["code"] for q in questionnaire.questions] == VALUATION_CODES
        else:
            assert questionnaire is None, product.code


def test_valuation_answers_use_the_valuation_engine_vocabulary(seeded):
    questions = _by_code(_questions("PAT-ENF", "valuation"))
    expected_options = {
        "invalidation_history": ["none", "survived", "partially_invalidated", "pending"],
        "claim_type": ["product", "method", "use"],
        "non_circumventability": ["1", "2", "3", "4", "5"],
        "technical_maturity": ["concept", "prototype", "pilot", "mass_production"],
        "substitutes": ["none", "few", "many"],
        "licensing": ["none", "non_exclusive", "exclusive"],
    }
    for code, options in expected_options.items():
        assert questions[code]["kind"] == "choice"
        assert [o["code"] for o in questions[code]["options"]] == options
    bounds = {
        "market_share": ("number", 0, 100),
        "revenue_attributable": ("number", 0, None),
        "royalty_rate": ("number", 0, 50),
        "economic_life": ("integer", 1, 30),
        "discount_rate": ("number", 1, 50),
        "growth_rate": ("number", -50, 100),
        "rd_cost": ("number", 0, None),
        "obsolescence": ("number", 0, 100),
    }
    for code, (kind, low, high) in bounds.items():
        assert (
            questions[code]["kind"],
            questions[code].get("min"),
            questions[code].get("max"),
        ) == (
            kind,
            low,
            high,
        ), code
    assert [c for c, q in questions.items() if not q["required"]] == [
        "growth_rate",
        "rd_cost",
        "obsolescence",
    ]
    help_en = questions["royalty_rate"]["help"]["en"]
    assert "2–3 %" in help_en and "5–6 %" in help_en and "20 %" in help_en
    assert len({json.dumps(q["group"], sort_keys=True) for q in questions.values()}) == 5


def test_every_question_and_option_is_bilingual(seeded):
    for questionnaire in Questionnaire.objects.all():
        for question in questionnaire.questions:
            assert question["label"]["zh"].strip() and question["label"]["en"].strip()
            for option in question.get("options", []):
                assert option["label"]["zh"].strip() and option["label"]["en"].strip()
            for key in ("help", "group", "unit"):
                if key in question:
                    assert question[key]["zh"].strip() and question[key]["en"].strip()


def test_no_catch_all_question(seeded):
    """Insurance Law art. 16: specific questions only. The one free-text question asks for the
    details of a dispute the applicant has just said exists."""
    for questionnaire in Questionnaire.objects.all():
        texts = [q for q in questionnaire.questions if q["kind"] == "text"]
        assert [q["code"] for q in texts] in ([], ["known_dispute_details"])
        for question in texts:
            assert question["show_if"] == {"question": "known_dispute", "equals": True}
            assert question["required"] is True


def test_derived_rating_inputs_are_never_asked(seeded):
    for questionnaire in Questionnaire.objects.all():
        codes = {q["code"] for q in questionnaire.questions}
        links = {v for q in questionnaire.questions for v in (q.get("rating") or {}).values()}
        assert not (codes | links) & DERIVED


@pytest.mark.parametrize("code", FULL_PRODUCTS)
def test_every_rating_table_is_linked_or_derived(seeded, code):
    questions = _questions(code)
    by_table = {q["rating"]["table"] for q in questions if "table" in q.get("rating", {})}
    by_input = {q["rating"]["input"] for q in questions if "input" in q.get("rating", {})}
    tables = list(_version(code).coefficient_tables.all())
    assert tables
    for table in tables:
        linked = table.code in by_table or (table.input_key and table.input_key in by_input)
        derived = table.code in DERIVED or table.input_key in DERIVED
        assert linked or derived, f"{code}: table {table.code} is neither asked nor derived"
        assert not (linked and derived), f"{code}: table {table.code} is derived yet asked"


@pytest.mark.parametrize("code", FULL_PRODUCTS + ["PAT-PLEDGE", "IP-ENF"])
def test_linked_choice_options_equal_the_table_options(seeded, code):
    tables = {t.code: t for t in _version(code).coefficient_tables.prefetch_related("options")}
    for question in _questions(code):
        link = question.get("rating")
        if not link:
            continue
        if "table" in link:
            linked = [tables[link["table"]]]
        else:
            linked = [t for t in tables.values() if t.input_key == link["input"]]
        assert linked, f"{code}: {question['code']} links to nothing"
        for table in linked:
            options = list(table.options.all())
            if any(o.lower is not None or o.upper is not None for o in options):
                assert question["kind"] in ("number", "integer")
            else:
                assert question["kind"] == "choice"
                assert {o["code"] for o in question["options"]} == {o.code for o in options}


def test_products_adapt_the_risk_questions(seeded):
    liability = _by_code(_questions("PAT-INF-LIAB"))
    assert liability["industry"]["rating"] == {"table": "industry_liability"}
    assert liability["suits_last_5_years"]["rating"] == {"input": "suits_last_5_years"}
    assert "patent_type" not in liability
    overseas = [q["code"] for q in _questions("IP-OVS-LIAB")]
    assert overseas.index("sales_region") == overseas.index("sales_regions") + 1
    assert "claims_history" in overseas
    assert "mark_standing" in _by_code(_questions("TM-INF-LOSS"))
    for code in ("PAT-PLEDGE", "IP-PLEDGE"):
        assert _by_code(_questions(code))["loan_term_months"]["rating"] == {
            "input": "loan_term_months"
        }
    assert _by_code(_questions("RD-COST"))["project_months"]["max"] >= 37
    # A product without a rating table asks the base questions, unlinked.
    assert not any(q.get("rating") for q in _questions("PAT-APP"))


# --- rules ------------------------------------------------------------------------------------


def test_rules_are_loaded_and_validate(seeded):
    default_codes = [r["code"] for r in _data("rules")["default"]]
    for product in Product.objects.all():
        loaded = _rules(product.code)
        assert loaded, product.code
        for rule in loaded:
            rules.validate_rule(rule)
            assert rule.reason["zh"] and rule.reason["en"]
        disabled = set((_data("rules")["products"].get(product.code) or {}).get("disable", []))
        assert set(default_codes) - disabled <= {r.code for r in loaded}
    enforcement = {r.code: r for r in _rules("PAT-ENF")}
    assert "known_dispute" not in enforcement
    assert enforcement["known_dispute_exclusion"].outcome == "exclude"


def test_known_dispute_is_excluded_from_enforcement_cover(seeded):
    decision = rules.evaluate(_rules("PAT-ENF"), {"known_dispute": True, "sum_insured": "200000"})
    assert decision.outcome == "quote"
    assert [h.code for h in decision.hits] == ["known_dispute_exclusion"]
    (exclusion,) = decision.exclusions
    assert "disclosed in the application" in exclusion["text"]["en"]
    assert "投保申请中披露的争议" in exclusion["text"]["zh"]
    assert exclusion["explanation"]["zh"] and exclusion["explanation"]["en"]


def test_known_dispute_declines_liability_cover(seeded):
    decision = rules.evaluate(_rules("PAT-INF-LIAB"), {"known_dispute": True})
    assert decision.outcome == "decline"
    assert decision.exclusions == ()
    assert rules.evaluate(_rules("PAT-INF-LIAB"), {"known_dispute": False}).outcome == "quote"


@pytest.mark.parametrize("code", ["PAT-ENF", "PAT-INF-LIAB"])
def test_sales_in_the_usa_refer(seeded, code):
    decision = rules.evaluate(_rules(code), {"sales_usa": True, "known_dispute": False})
    assert decision.outcome == "refer"
    assert [h.code for h in decision.hits] == ["us_sales"]


@pytest.mark.parametrize(
    ("facts", "outcome", "code"),
    [
        ({"any_right_not_in_force": True}, "decline", "right_not_in_force"),
        ({"sum_insured": "1000000.01"}, "refer", "above_auto_authority"),
        ({"sum_insured": "1000000.00"}, "quote", None),
        ({"min_remaining_years": "2.9"}, "refer", "short_remaining_term"),
        ({"suits_last_5_years": 3}, "refer", "frequent_suits"),
        ({"suits_last_5_years": 2}, "quote", None),
        ({"warning_letters": True}, "refer", "warning_letters"),
        ({"invalidation_requests": True}, "refer", "invalidation_request_pending"),
        ({"npe_exposure": True}, "refer", "npe_exposure"),
        ({"min_valuation_score": "29.9"}, "refer", "low_valuation_score"),
    ],
)
def test_default_rules_on_patent_enforcement(seeded, facts, outcome, code):
    decision = rules.evaluate(_rules("PAT-ENF"), facts)
    assert decision.outcome == outcome
    assert [h.code for h in decision.hits] == ([code] if code else [])
