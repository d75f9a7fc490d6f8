"""The shipped catalogue: every product of the market, full clauses, the golden premium."""

from decimal import Decimal

import pytest
import yaml
from django.core.management import call_command

from portal.errors import DomainError
from underwriting import services
from underwriting.catalogue_loader import CATALOGUE_DIR
from underwriting.clause_text import sha256_text
from underwriting.models import ClauseVersion, Insurer, Product, Rider

FULL_CLAUSES = [
    "PAT-ENF",
    "PAT-INF-LIAB",
    "PAT-INF-LOSS",
    "TM-INF-LOSS",
    "IP-PLEDGE",
    "IP-OVS-LIAB",
    "RD-COST",
]


@pytest.fixture
def seeded(db):
    call_command("seed_catalogue")


def _data(name):
    with open(CATALOGUE_DIR / f"{name}.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_every_product_and_rider_is_published(seeded):
    products = _data("products")
    riders = _data("riders")
    assert len(products) >= 30
    assert Product.objects.filter(status="published").count() == len(products)
    assert Rider.objects.filter(status="published").count() == len(riders)
    assert Insurer.objects.count() == len(_data("insurers"))
    for product in Product.objects.all():
        version = product.clause_versions.get()
        assert version.status == "published"
        assert version.text_sha256 == sha256_text(services.clause_version_text(version))
        assert product.insurer_shares.exists()


@pytest.mark.parametrize("code", FULL_CLAUSES)
def test_full_clauses_are_complete(seeded, code):
    version = ClauseVersion.objects.get(product__code=code)
    assert len(version.covered_causes) >= 3
    assert len(version.exclusions) >= 6
    for item in version.exclusions:
        for key in ("title", "text", "explanation"):
            assert item[key]["zh"].strip() and item[key]["en"].strip()
    assert len(version.claim_documents) >= 3
    assert version.rating_sections.exists()


def test_golden_patent_enforcement_premium_from_the_catalogue(seeded):
    version = ClauseVersion.objects.get(product__code="PAT-ENF")
    result = services.premium_quote(
        version=version,
        limits={"investigation": "50000", "legal": "150000"},
        item_count=1,
        choices={
            "industry": "electronic_information",
            "management": "basic",
        },
        values={"annual_sales": "8000000", "deductible_rate": "10"},
    )
    assert [s.premium for s in result.sections] == [Decimal("1764.00"), Decimal("5400.00")]
    assert result.total == Decimal("7164.00")


def test_seed_catalogue_is_idempotent(seeded, capsys):
    counts = (Product.objects.count(), ClauseVersion.objects.count(), Product.history.count())
    call_command("seed_catalogue")
    assert "nothing changed" in capsys.readouterr().out
    assert counts == (
        Product.objects.count(),
        ClauseVersion.objects.count(),
        Product.history.count(),
    )


def test_co_insurance_shares_sum_to_100(seeded):
    for product in Product.objects.prefetch_related("insurer_shares"):
        shares = [s.share for s in product.insurer_shares.all() if s.share is not None]
        if shares:
            assert sum(shares) == Decimal("100")
    assert any(s.share for s in Product.objects.get(code="PAT-INF-LIAB").insurer_shares.all())


def _enforcement_quote(**overrides):
    arguments = {
        "version": ClauseVersion.objects.get(product__code="PAT-ENF"),
        "limits": {"investigation": "50000", "legal": "150000"},
        "choices": {"industry": "electronic_information", "management": "basic"},
        "values": {"annual_sales": "8000000", "deductible_rate": "10"},
    }
    arguments.update(overrides)
    return services.premium_quote(**arguments)


def test_rider_loading_multiplies_the_sections_total(seeded):
    result = _enforcement_quote(rider_codes=["R-ADVANCE"])
    assert result.rider_product == Decimal("1.15")
    assert result.total == Decimal("8238.60")  # 7,164.00 × 1.15


def test_withdrawn_rider_cannot_be_priced(seeded):
    rider = Rider.objects.get(code="R-ADVANCE")
    services.rider_withdraw(rider=rider, actor=None)
    with pytest.raises(DomainError):
        _enforcement_quote(rider_codes=["R-ADVANCE"])


def test_bad_inputs_give_domain_errors_not_crashes(seeded):
    with pytest.raises(DomainError):
        _enforcement_quote(values={"annual_sales": "many"})
    with pytest.raises(DomainError):
        _enforcement_quote(limits={"investigation": "-1"})
    with pytest.raises(DomainError):
        _enforcement_quote(choices={"industry": "no_such_industry"})
    with pytest.raises(DomainError):
        _enforcement_quote(limits={})


def test_answer_codes_select_unbanded_options(seeded):
    by_answer = _enforcement_quote(
        choices={"management": "basic"},
        values={
            "industry": "electronic_information",
            "annual_sales": "8000000",
            "deductible_rate": "10",
        },
    )
    assert by_answer.total == Decimal("7164.00")
