"""The public catalogue: product list with filters, product pages and the premium calculator."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from tests.factories import UserFactory
from tests.underwriting.catalogue_factories import (
    bulk_published_products,
    insurer,
    patent_enforcement_product,
    product_row,
    published_product,
    published_rider,
)
from underwriting import catalogue_cache, services
from underwriting.catalogue_cache import catalogue_changed
from underwriting.choices import FunctionClass, LiabilityClass
from underwriting.models import ClauseVersion, Product, Rider

LIST_URL = "/products/"
CARD = re.compile(r'data-code="([^"]+)"')
HTMX = {"HX-Request": "true"}


def codes(response) -> list[str]:
    return CARD.findall(response.content.decode())


def english(client):
    client.cookies["portal_language"] = "en"
    return client


@pytest.fixture
def actor(db):
    return UserFactory(email="pm@example.test", is_staff=True)


@pytest.fixture
def catalogue(actor):
    picc = insurer("PICC", "人保财险", "PICC P&C")
    pingan = insurer("PINGAN", "平安产险", "Ping An P&C")
    published_product(actor=actor, code="P-PAT", ip_types=["patent"], insurers=[picc])
    published_product(
        actor=actor,
        code="P-TM",
        ip_types=["trademark"],
        liability_class="liability",
        insurers=[pingan],
    )
    published_product(
        actor=actor,
        code="P-MIX",
        ip_types=["patent", "copyright"],
        liability_class="financing",
        function_class="commercialisation",
        insurers=[(picc, Decimal("50")), (pingan, Decimal("50"))],
    )
    product_row(code="P-DRAFT", ip_types=["patent"], insurers=[picc])
    withdrawn = published_product(actor=actor, code="P-GONE", insurers=[picc])
    services.product_withdraw(product=withdrawn, actor=actor)
    return {"picc": picc, "pingan": pingan}


# --- List -------------------------------------------------------------------------------------


def test_list_shows_published_products_only(client, catalogue):
    response = client.get(LIST_URL)
    assert response.status_code == 200
    assert codes(response) == ["P-MIX", "P-PAT", "P-TM"]
    body = response.content.decode()
    assert "P-DRAFT" not in body and "P-GONE" not in body
    assert "3 个产品" in body
    # Badges: liability class, function class, IP types and insurers, in Chinese by default.
    with translation.override("zh-hans"):
        assert f">{LiabilityClass.EXPENSE.label}<" in body
        assert f">{FunctionClass.COMMERCIALISATION.label}<" in body
    assert "人保财险" in body and "平安产险" in body
    assert ">专利<" in body and "产品P-PAT" in body and "P-PAT的简介" in body


def test_list_renders_in_english_with_the_cookie(client, catalogue):
    body = english(client).get(LIST_URL).content.decode()
    assert "Product P-PAT" in body and "产品P-PAT" not in body
    assert "Summary of P-PAT" in body
    assert "PICC P&amp;C" in body and "Ping An P&amp;C" in body
    assert "Expense cover" in body and "Financing cover" in body
    assert "Supports commercialisation" in body
    assert ">Copyright<" in body and ">Trademark<" in body
    assert "3 products" in body


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["P-MIX", "P-PAT", "P-TM"]),
        ({"ip_type": "patent"}, ["P-MIX", "P-PAT"]),
        ({"ip_type": "copyright"}, ["P-MIX"]),
        ({"ip_type": "trade_secret"}, []),
        ({"liability_class": "liability"}, ["P-TM"]),
        ({"function_class": "commercialisation"}, ["P-MIX"]),
        ({"function_class": "protection"}, ["P-PAT", "P-TM"]),
        ({"insurer": "PICC"}, ["P-MIX", "P-PAT"]),
        ({"insurer": "PINGAN"}, ["P-MIX", "P-TM"]),
        ({"ip_type": "patent", "insurer": "PINGAN"}, ["P-MIX"]),
        ({"ip_type": "patent", "liability_class": "expense"}, ["P-PAT"]),
        ({"ip_type": "patent", "function_class": "protection", "insurer": "PINGAN"}, []),
        ({"liability_class": "financing", "function_class": "commercialisation"}, ["P-MIX"]),
        # Values that are not on offer are ignored, never an error.
        ({"ip_type": "nonsense"}, ["P-MIX", "P-PAT", "P-TM"]),
        ({"insurer": "NOBODY", "liability_class": "liability"}, ["P-TM"]),
    ],
)
def test_filters_combine(client, catalogue, params, expected):
    response = client.get(LIST_URL, params)
    assert response.status_code == 200
    assert sorted(codes(response)) == expected
    count_text = re.search(r'id="product-count">\s*(\d+)', response.content.decode())
    assert int(count_text.group(1)) == len(expected)


def test_filter_form_keeps_the_chosen_values(client, catalogue):
    body = client.get(LIST_URL, {"ip_type": "copyright", "insurer": "PINGAN"}).content.decode()
    assert re.search(r'<option value="copyright" selected>', body)
    assert re.search(r'<option value="PINGAN" selected>', body)
    # Only insurers of published products are offered.
    assert 'hx-get="/products/"' in body and 'hx-target="#product-results"' in body


def test_htmx_request_gets_only_the_results_partial(client, catalogue):
    response = client.get(LIST_URL, {"ip_type": "trademark"}, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and "<form" not in body
    assert codes(response) == ["P-TM"]
    assert 'id="product-count"' in body
    assert "HX-Request" in response["Vary"]
    full = client.get(LIST_URL, {"ip_type": "trademark"})
    assert "<html" in full.content.decode() and 'id="product-results"' in full.content.decode()


def test_list_paginates_24_per_page_and_keeps_filters(client, db):
    bulk_published_products(30, insurers=[insurer("A"), insurer("B")])
    first = client.get(LIST_URL, {"ip_type": "patent"})
    assert len(codes(first)) == 24
    body = first.content.decode()
    assert "30 个产品" in body
    assert "?ip_type=patent&amp;page=2" in body
    second = client.get(LIST_URL, {"ip_type": "patent", "page": 2})
    assert len(codes(second)) == 6
    assert set(codes(first)).isdisjoint(codes(second))


def _list_queries(client, params=None, headers=None) -> int:
    """The queries of rendering the list (not of serving it from the cache)."""
    catalogue_changed()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST_URL, params or {}, headers=headers or {})
    assert response.status_code == 200
    return len(queries)


def test_list_costs_the_same_queries_for_30_and_300_products(client, db):
    insurers = [insurer("A"), insurer("B"), insurer("C")]
    bulk_published_products(30, insurers=insurers)
    small_page = _list_queries(client)
    small_filtered = _list_queries(client, {"ip_type": "patent", "insurer": "B"})
    small_htmx = _list_queries(client, {"ip_type": "patent"}, HTMX)
    bulk_published_products(270, insurers=insurers, prefix="MORE")
    assert "300 个产品" in client.get(LIST_URL).content.decode()
    assert _list_queries(client) == small_page
    assert _list_queries(client, {"ip_type": "patent", "insurer": "B"}) == small_filtered
    assert _list_queries(client, {"ip_type": "patent"}, HTMX) == small_htmx
    assert small_page <= 6


def test_list_does_not_query_per_product_on_a_page(client, db):
    # With pagination 30 and 300 products both fill a page; 1 against 24 catches N+1 queries.
    insurers = [insurer("A"), insurer("B")]
    bulk_published_products(1, insurers=insurers)
    one = _list_queries(client)
    bulk_published_products(23, insurers=insurers, prefix="MORE")
    assert _list_queries(client) == one


def test_a_second_visit_is_served_from_the_cache_without_a_query(client, catalogue):
    first = client.get(LIST_URL, {"ip_type": "patent"})
    with CaptureQueriesContext(connection) as queries:
        again = client.get(LIST_URL, {"ip_type": "patent"})
        fragment = client.get(LIST_URL, {"ip_type": "patent"}, headers=HTMX)
    assert len(queries) == 0, [q["sql"][:150] for q in queries]
    assert codes(again) == codes(first) == ["P-MIX", "P-PAT"]
    assert codes(fragment) == codes(first)
    assert "<html" not in fragment.content.decode()
    # Each language and each filter has its own entry.
    assert "Product P-PAT" in english(client).get(LIST_URL).content.decode()
    client.cookies["portal_language"] = "zh-hans"
    assert "产品P-PAT" in client.get(LIST_URL).content.decode()
    assert codes(client.get(LIST_URL, {"ip_type": "trademark"})) == ["P-TM"]


def test_a_catalogue_change_shows_on_the_next_visit(client, catalogue, actor):
    assert codes(client.get(LIST_URL)) == ["P-MIX", "P-PAT", "P-TM"]
    renamed = Product.objects.get(code="P-TM")
    renamed.name_zh = "改名后的商标产品"
    renamed.save()
    assert "改名后的商标产品" in client.get(LIST_URL).content.decode()
    services.product_withdraw(product=renamed, actor=actor)
    assert codes(client.get(LIST_URL)) == ["P-MIX", "P-PAT"]
    assert 'value="PINGAN"' in client.get(LIST_URL).content.decode()
    published_product(actor=actor, code="P-NEW", insurers=[insurer("CPIC", "太保产险")])
    body = client.get(LIST_URL).content.decode()
    assert codes(client.get(LIST_URL)) == ["P-MIX", "P-NEW", "P-PAT"]
    assert "太保产险" in body
    catalogue["picc"].name_zh = "人保财险（新名）"
    catalogue["picc"].save()
    assert "人保财险（新名）" in client.get(LIST_URL, {"insurer": "PICC"}).content.decode()


def test_unusual_query_strings_are_rendered_not_cached(client, catalogue):
    for params in ({"utm_source": "x"}, {"ip_type": ["patent", "trademark"]}, {"page": "9" * 60}):
        response = client.get(LIST_URL, params)
        assert response.status_code == 200
    assert catalogue_cache.results_key(QueryDict("utm_source=x"), "zh-hans") is None
    assert catalogue_cache.results_key(QueryDict("ip_type=a&ip_type=b"), "zh-hans") is None
    assert catalogue_cache.results_key(QueryDict("page=2"), "zh-hans") is not None


def test_the_list_is_served_when_the_cache_is_down(client, catalogue, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    from django.core.cache import cache

    for method in ("get", "set", "add", "delete"):
        monkeypatch.setattr(cache, method, down)
    response = client.get(LIST_URL)
    assert response.status_code == 200
    assert codes(response) == ["P-MIX", "P-PAT", "P-TM"]


def test_navigation_links_to_the_catalogue_for_everyone(client, db):
    body = client.get("/").content.decode()
    assert f'href="{reverse("underwriting:product_list")}"' in body


# --- Product page -----------------------------------------------------------------------------


@pytest.fixture
def golden(actor):
    return patent_enforcement_product(actor=actor)


def detail_url(code: str) -> str:
    return reverse("underwriting:product_detail", args=[code])


def premium_url(code: str) -> str:
    return reverse("underwriting:product_premium", args=[code])


@pytest.mark.parametrize("code", ["NOPE", "P-DRAFT", "P-GONE"])
def test_detail_is_404_unless_published(client, catalogue, code):
    assert client.get(detail_url(code)).status_code == 404
    assert client.post(premium_url(code), {"limit_legal": "100000"}).status_code == 404


def test_detail_shows_every_exclusion_prominently(client, golden):
    response = client.get(detail_url(golden.code))
    assert response.status_code == 200
    body = response.content.decode()
    version = ClauseVersion.objects.get(product=golden)
    assert len(version.exclusions) == 8
    for item in version.exclusions:
        assert item["title"]["zh"] in body
        assert item["text"]["zh"] in body
        assert item["explanation"]["zh"] in body
    assert body.count('class="card border-warning border-2 mb-3 exclusion"') == 8
    assert body.count("exclusion-explanation") == 8
    assert 'id="exclusion-8"' in body


def test_detail_shows_the_wording(client, golden, actor):
    body = client.get(detail_url(golden.code)).content.decode()
    version = ClauseVersion.objects.get(product=golden)
    assert "专利执行保险" in body
    assert "保险单列明的被保险专利" in body  # insured object
    assert re.search(r'<ol class="list-group list-group-numbered" id="covered-causes">', body)
    assert "立案前调查取证" in body and "提起诉讼或仲裁" in body
    assert "如实告知" in body  # obligations
    assert "每次事故免赔率10%" in body  # deductible rules
    documents = body.split('id="claim-documents"')[1].split("</ul>")[0]
    assert "保险单正本" in documents and "侵权证据材料" in documents
    assert documents.count("text-bg-danger") == 1  # one required, one optional
    short_rates = body.split('id="short-rate-table"')[1].split("</table>")[0]
    assert re.findall(r"<td>(\d+)</td>", short_rates)[12:] == [
        str(p) for p in [10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95, 100]
    ]
    assert version.text_sha256 in body and len(version.text_sha256) == 64
    assert "2025版" in body and "2025-01-01" in body
    insurers = body.split('id="insurers"')[1].split("</dd>")[0]
    assert "中国人民财产保险股份有限公司" in insurers and "共保份额 60%" in insurers
    assert "共保份额 40%" in insurers
    riders = body.split('id="riders"')[1].split("</ul>")[0]
    assert "诉讼费用预付附加险" in riders and "提前支付诉讼费用。" in riders


def test_detail_in_english_with_the_cookie(client, golden):
    body = english(client).get(detail_url(golden.code)).content.decode()
    assert "Patent enforcement insurance" in body and "专利执行保险" not in body
    for n in range(1, 9):
        assert f"Exclusion title {n}" in body
        assert f"Plain explanation number {n}" in body
        assert f"Clause wording number {n}" in body
    assert "除外责任标题" not in body
    assert "Pre-filing investigation" in body
    assert "What is NOT covered" in body and "In plain words" in body
    assert "Rights holder" in body and ">Patent<" in body
    assert "Original policy" in body and "Required" in body and "Optional" in body
    assert "Advance of legal costs rider" in body and "Pays legal costs in advance." in body
    assert "PICC Property and Casualty" in body
    # The calculator, in English too, with thousands separators and the defaults chosen.
    assert '<option value="50000" selected>50,000</option>' in body
    assert '<option value="150000" selected>150,000</option>' in body
    assert '<option value="electronic_information" selected>Electronic information (×0.9)' in body
    assert '<option value="le_10m" selected>' in body
    assert '<option value="basic" selected>' in body
    assert "Advance of legal costs rider (×1.15)" in body


def test_detail_shows_the_current_published_version_not_a_newer_draft(client, golden, actor):
    first = ClauseVersion.objects.get(product=golden)
    draft = services.clause_version_create_draft(actor=actor, product=golden, label="2026版")
    body = client.get(detail_url(golden.code)).content.decode()
    assert "2025版" in body and "2026版" not in body
    assert first.text_sha256 in body
    published = services.clause_version_publish(version=draft, actor=actor)
    body = client.get(detail_url(golden.code)).content.decode()
    assert "2026版" in body and published.text_sha256 in body
    assert first.text_sha256 not in body


def test_detail_lists_only_published_riders_of_this_product(client, golden, actor, catalogue):
    other = Product.objects.get(code="P-PAT")
    published_rider(actor=actor, code="R-OTHER", main=[other], name_en="Other rider")
    Rider.objects.create(
        code="R-DRAFT", name_zh="草稿附加险", name_en="Draft rider"
    ).main_products.add(golden)
    body = english(client).get(detail_url(golden.code)).content.decode()
    assert "Advance of legal costs rider" in body
    assert "Other rider" not in body and "Draft rider" not in body


def test_detail_query_count_is_bounded(client, golden, actor, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as before:
        client.get(detail_url(golden.code))
    for n in range(3):
        published_rider(actor=actor, code=f"R-MORE-{n}", main=[golden], name_en=f"More {n}")
    with CaptureQueriesContext(connection) as after:
        body = client.get(detail_url(golden.code)).content.decode()
    assert "附加险R-MORE-2" in body
    assert len(after) == len(before)
    with django_assert_max_num_queries(10):
        client.get(detail_url(golden.code))


# --- Premium calculator ------------------------------------------------------------------------


def golden_answers(**overrides) -> dict:
    answers = {
        "limit_investigation": "50000",
        "limit_legal": "150000",
        "item_count": "1",
        "coef_industry": "electronic_information",
        "coef_annual_sales": "le_10m",
        "coef_management": "basic",
    }
    answers.update(overrides)
    return {k: v for k, v in answers.items() if v is not None}


def test_golden_premium_through_htmx(client, golden):
    response = client.post(premium_url(golden.code), golden_answers(), headers=HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert "1,764.00" in body and "5,400.00" in body
    assert re.search(r'id="premium-total">[^<]*7,164\.00', body)
    assert "50,000 × 0.049 × 1 × 0.9 × 0.8 × 1" in body
    assert "150,000 × 0.05 × 1 × 0.9 × 0.8 × 1" in body
    assert 'id="minimum-not-applied"' in body
    assert "行业: 电子信息" in body and "年销售额: 1000万元及以下" in body
    assert "HX-Request" in response["Vary"]


def test_golden_premium_in_english_names_every_coefficient(client, golden):
    body = english(client).post(premium_url(golden.code), golden_answers(), headers=HTMX)
    body = body.content.decode()
    assert "Industry: Electronic information" in body
    assert "Annual sales: CNY 10 million or less" in body
    assert "IP management: Basic" in body
    assert "Investigation costs" in body and "Legal costs" in body
    assert "CNY 7,164.00" in body


def test_defaults_apply_when_coefficients_are_not_sent(client, golden):
    answers = golden_answers(coef_industry=None, coef_annual_sales=None, coef_management=None)
    body = client.post(premium_url(golden.code), answers, headers=HTMX).content.decode()
    assert re.search(r'id="premium-total">[^<]*7,164\.00', body)


def test_premium_without_javascript_renders_the_product_page(client, golden):
    response = client.post(premium_url(golden.code), golden_answers(item_count="2"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body and "专利执行保险" in body and 'id="exclusions"' in body
    # 2 patents: 3,528.00 + 10,800.00
    assert "3,528.00" in body and "10,800.00" in body
    assert re.search(r'id="premium-total">[^<]*14,328\.00', body)
    # The answers stay chosen in the re-rendered form.
    assert 'value="2"' in body


def test_rider_factor_applies(client, golden):
    answers = golden_answers(riders="R-ADVANCE-T")
    body = english(client).post(premium_url(golden.code), answers, headers=HTMX).content.decode()
    assert "Rider: Advance of legal costs rider" in body and "× 1.15" in body
    assert re.search(r'id="premium-total">[^<]*8,238\.60', body)


def test_minimum_premium_applies(client, golden):
    answers = golden_answers(
        limit_legal="", coef_industry="high_tech_services", coef_management="certified"
    )
    body = client.post(premium_url(golden.code), answers, headers=HTMX).content.decode()
    assert "637.00" in body  # 50,000 × 0.049 × 0.65 × 0.8 × 0.5
    assert "Legal costs" not in body and "法律费用" not in body
    assert 'id="minimum-applied"' in body
    assert re.search(r'id="premium-total">[^<]*1,000\.00', body)


@pytest.mark.parametrize(
    "bad",
    [
        {"limit_investigation": "abc"},
        {"limit_investigation": "-50000"},
        {"limit_investigation": "12345"},  # not one of the limit options
        {"item_count": "-1"},
        {"item_count": "0"},
        {"item_count": "lots"},
        {"item_count": "100000"},
        {"coef_industry": "no_such_industry"},
        {"riders": "R-NOPE"},
    ],
)
def test_bad_answers_show_an_error_not_a_500(client, golden, bad):
    for headers in (HTMX, {}):
        response = english(client).post(
            premium_url(golden.code), golden_answers(**bad), headers=headers
        )
        assert response.status_code == 200
        body = response.content.decode()
        assert "premium-error" in body and "Please check your answers." in body
        assert 'id="premium-total"' not in body


def test_no_limit_at_all_shows_the_services_message(client, golden):
    answers = golden_answers(limit_investigation="", limit_legal="")
    response = english(client).post(premium_url(golden.code), answers, headers=HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "premium-error" in body
    assert "Enter a limit for at least one cover section." in body


def test_calculator_stores_nothing_and_get_redirects(client, golden):
    counts = (ClauseVersion.objects.count(), Product.history.count(), ClauseVersion.history.count())
    client.post(premium_url(golden.code), golden_answers(), headers=HTMX)
    client.post(premium_url(golden.code), golden_answers(limit_investigation="x"))
    assert counts == (
        ClauseVersion.objects.count(),
        Product.history.count(),
        ClauseVersion.history.count(),
    )
    response = client.get(premium_url(golden.code))
    assert response.status_code == 302 and response["Location"] == detail_url(golden.code)


def test_calculator_form_posts_with_csrf_through_htmx(client, golden):
    body = client.get(detail_url(golden.code)).content.decode()
    form = body.split('id="calculator"')[1].split("</form>")[0]
    assert f'hx-post="{premium_url(golden.code)}"' in form
    assert 'hx-target="#premium-result"' in form
    assert "csrfmiddlewaretoken" in form
    assert "X-CSRFToken" in body


def test_calculator_enforces_csrf(golden):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(premium_url(golden.code), golden_answers(), headers=HTMX)
    assert response.status_code == 403
    strict.get(detail_url(golden.code))
    token = strict.cookies["csrftoken"].value
    response = strict.post(
        premium_url(golden.code), golden_answers(), headers={**HTMX, "X-CSRFToken": token}
    )
    assert response.status_code == 200 and "7,164.00" in response.content.decode()
