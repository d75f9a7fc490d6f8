"""Loading the questionnaires and rules: idempotent, and all-or-nothing on a broken file."""

import shutil

import pytest
import yaml
from django.core.management import call_command

from underwriting.catalogue_loader import CATALOGUE_DIR, CatalogueError, load_catalogue
from underwriting.models import Product, Questionnaire, UnderwritingRule

DATA_FILES = ["insurers", "products", "riders", "questionnaires", "rules"]
# The broken cases all concern these products or the default rules; loading only them keeps
# each case fast while the whole file is still parsed and checked.
BROKEN_CASE_PRODUCTS = ["PAT-ENF", "PAT-APP"]


@pytest.fixture
def seeded(db):
    call_command("seed_catalogue", only=BROKEN_CASE_PRODUCTS)


def _data(name):
    with open(CATALOGUE_DIR / f"{name}.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# --- loading ----------------------------------------------------------------------------------


def test_second_seed_creates_nothing(seeded, capsys):
    counts = (
        Questionnaire.objects.count(),
        UnderwritingRule.objects.count(),
        UnderwritingRule.history.count(),
    )
    capsys.readouterr()
    call_command("seed_catalogue", only=BROKEN_CASE_PRODUCTS)
    assert "nothing changed" in capsys.readouterr().out
    assert load_catalogue(only=BROKEN_CASE_PRODUCTS) == []
    assert counts == (
        Questionnaire.objects.count(),
        UnderwritingRule.objects.count(),
        UnderwritingRule.history.count(),
    )


def test_reseeding_restores_a_changed_rule(seeded):
    rule = UnderwritingRule.objects.get(product__code="PAT-ENF", code="us_sales")
    rule.outcome = "decline"
    rule.save()
    assert load_catalogue(only=BROKEN_CASE_PRODUCTS) == ["rule PAT-ENF:us_sales (updated)"]
    rule.refresh_from_db()
    assert rule.outcome == "refer"


def _copy_catalogue(tmp_path):
    for name in DATA_FILES:
        shutil.copy(CATALOGUE_DIR / f"{name}.yaml", tmp_path / f"{name}.yaml")


def _rewrite(tmp_path, name, change):
    data = _data(name)
    change(data)
    with open(tmp_path / f"{name}.yaml", "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle, allow_unicode=True, sort_keys=False)


def _risk(data, code):
    return next(q for q in data["risk"] if q["code"] == code)


def _add_question(data, question):
    data["risk"].append(question)


BROKEN = {
    "link_to_missing_table": (
        "questionnaires",
        lambda d: d["products"]["PAT-ENF"]["rating"].update(management={"table": "no_table"}),
        r"PAT-ENF.*'management'.*'no_table'",
    ),
    "link_to_missing_input": (
        "questionnaires",
        lambda d: d["products"].update(
            {"PAT-APP": {"rating": {"industry": {"input": "industry"}}}}
        ),
        r"PAT-APP.*'industry'.*input 'industry'",
    ),
    "options_differ_from_table": (
        "questionnaires",
        lambda d: _risk(d, "management")["options"].pop(),
        r"PAT-ENF.*'management'.*missing \['weak'\]",
    ),
    "derived_input_asked": (
        "questionnaires",
        lambda d: d["products"]["PAT-ENF"]["rating"].update(
            annual_sales={"input": "deductible_rate"}
        ),
        r"PAT-ENF.*'annual_sales'.*'deductible_rate'.*must not be asked",
    ),
    "unknown_question_kind": (
        "questionnaires",
        lambda d: _risk(d, "warning_letters").update(kind="yes_no"),
        r"'warning_letters'.*unknown question kind 'yes_no'",
    ),
    "unknown_questionnaire_kind": (
        "questionnaires",
        lambda d: d.update(claims=[]),
        r"unknown questionnaire kind.*'claims'",
    ),
    "duplicate_question": (
        "questionnaires",
        lambda d: _add_question(d, dict(_risk(d, "npe_exposure"))),
        r"duplicate question code 'npe_exposure'",
    ),
    "catch_all_question": (
        "questionnaires",
        lambda d: _add_question(
            d,
            {
                "code": "anything_else",
                "kind": "text",
                "label": {"zh": "还有其他需要告知的情况吗？", "en": "Anything else?"},
            },
        ),
        r"'anything_else'.*catch-all",
    ),
    "rule_with_unknown_operator": (
        "rules",
        lambda d: d["default"][0]["conditions"][0].update(op="is"),
        r"rule 'right_not_in_force'.*unknown operator 'is'",
    ),
    "exclusion_rule_without_exclusion": (
        "rules",
        lambda d: d["products"]["PAT-ENF"]["add"][0].pop("exclusion"),
        r"PAT-ENF, rule 'known_dispute_exclusion'.*exclusion",
    ),
    "rule_on_unknown_fact": (
        "rules",
        lambda d: d["default"][4]["conditions"][0].update(fact="sales_us"),
        r"rule 'us_sales'.*unknown fact 'sales_us'",
    ),
    "duplicate_rule": (
        "rules",
        lambda d: d["default"].append(dict(d["default"][1])),
        r"duplicate rule code 'known_dispute'",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_loader_rejects_a_broken_file(db, tmp_path, case):
    name, change, message = BROKEN[case]
    _copy_catalogue(tmp_path)
    _rewrite(tmp_path, name, change)
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(directory=tmp_path, only=BROKEN_CASE_PRODUCTS)
    # All or nothing: the products loaded before the error are rolled back too.
    assert not Product.objects.exists()
    assert not Questionnaire.objects.exists()


def test_the_copied_catalogue_loads(db, tmp_path):
    _copy_catalogue(tmp_path)
    created = load_catalogue(directory=tmp_path)
    assert any(c.startswith("questionnaire ") for c in created)
    assert any(c.startswith("rule ") for c in created)
