"""Officer reports: the white paper's figures per month, product class and region, the budgets,
the cover written under subsidy; scoped to the officer's authority, as charts, tables and CSV;
and the SVG charts themselves."""

import csv
import io
import itertools
import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from portal.choices import AuthorityLevel
from portal.models import Authority
from subsidies import charts, reports
from subsidies.choices import RequestStatus
from subsidies.models import Budget, SubsidyRequest
from tests.factories import FirmFactory
from tests.subsidies.helpers import in_force_policy, programme
from underwriting.choices import LiabilityClass
from underwriting.models import Policy, Product

D = Decimal
SHANGHAI = ZoneInfo("Asia/Shanghai")
YEAR = timezone.localdate().year
_numbers = itertools.count(1)


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue."""


@pytest.fixture
def authority_x(officer_x):
    return officer_x.officer_membership.authority


@pytest.fixture
def authority_y(officer_y):
    return officer_y.officer_membership.authority


@pytest.fixture
def wuxi(authority_x):
    return programme(authority_x, code="wuxi-report")


@pytest.fixture
def policies(catalogue, firm_a, applicant_a):
    """Three policies of firm A: expense cover (the default product), liability cover and
    financing cover, with sums insured of 1, 2 and 3 million."""
    made = [in_force_policy(firm_a, applicant_a) for _ in range(3)]
    for policy, liability_class, insured in zip(
        made,
        [LiabilityClass.EXPENSE, LiabilityClass.LIABILITY, LiabilityClass.FINANCING],
        [D("1000000"), D("2000000"), D("3000000")],
        strict=True,
    ):
        product = Product.objects.filter(liability_class=liability_class).first()
        Policy.objects.filter(pk=policy.pk).update(product=product, sum_insured=insured)
    return list(Policy.objects.filter(pk__in=[p.pk for p in made]).order_by("sum_insured"))


def at(month, day, hour=10, minute=0, year=YEAR):
    """A decision time given in Shanghai time."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def grant(prog, policy, *, status, amount, decided_at, firm=None, clawed_back=None):
    """A request written straight to the table, as the officers' decisions would leave it."""
    return SubsidyRequest.objects.create(
        number=f"T-{next(_numbers):06d}",
        programme=prog,
        authority=prog.authority,
        policy=policy,
        firm=firm or policy.firm,
        year=decided_at.year,
        status=status,
        premium_paid=D("10000.00"),
        rate=D("50"),
        expected_amount=D(amount),
        approved_amount=D(amount),
        clawed_back_amount=clawed_back,
        created_by=policy.application.created_by,
        decided_at=decided_at,
    )


@pytest.fixture
def scenario(wuxi, policies, authority_x):
    """Requests of authority X in March and May (the May one decided at 01:00 on 1 May in
    Shanghai, still 30 April in UTC), plus requests that must not count."""
    expense, liability, financing = policies
    other_firm = FirmFactory(region_code="320205")
    second = programme(authority_x, code="wuxi-report-2")
    made = {
        # March: 1,000 granted (approved) + 500 granted and paid
        "approved": grant(
            wuxi, expense, status=RequestStatus.APPROVED, amount="1000.00", decided_at=at(3, 2)
        ),
        "paid": grant(
            wuxi,
            liability,
            status=RequestStatus.DISBURSED,
            amount="500.00",
            decided_at=at(3, 31, 23, 30),
            firm=other_firm,
        ),
        # May (UTC: 30 April 17:00): 250 published
        "publicised": grant(
            wuxi,
            financing,
            status=RequestStatus.PUBLICISED,
            amount="250.00",
            decided_at=at(5, 1, 1, 0),
        ),
        # The expense policy again, under the second programme, in May: the policy counts once.
        "second": grant(
            second, expense, status=RequestStatus.APPROVED, amount="40.00", decided_at=at(5, 20)
        ),
        # Not granted: rejected, clawed back, and decided last year.
        "rejected": grant(
            second,
            liability,
            status=RequestStatus.REJECTED,
            amount="9999.00",
            decided_at=at(3, 5),
        ),
        "clawed": grant(
            second,
            financing,
            status=RequestStatus.CLAWED_BACK,
            amount="300.00",
            decided_at=at(3, 6),
            clawed_back=D("200.00"),
        ),
        "last_year": grant(
            second,
            liability,
            status=RequestStatus.DISBURSED,
            amount="777.00",
            decided_at=at(12, 31, 23, 59, year=YEAR - 1),
        ),
    }
    Budget.objects.filter(programme=wuxi, year=YEAR).update(
        committed=D("1250.00"), paid=D("500.00")
    )
    return made


# --- aggregation ------------------------------------------------------------------------------


def test_monthly_amounts_count_by_the_shanghai_month_of_the_decision(scenario, authority_x):
    # Whatever time zone is active: months are Shanghai's.
    with timezone.override("UTC"):
        found = reports.monthly_amounts(authority_x, YEAR)
    rows = {month.month: rest for month, *rest in found}
    assert len(rows) == 12
    assert rows[3] == [2, D("1500.00"), D("500.00"), D("200.00")]
    assert rows[5] == [2, D("290.00"), D("0.00"), D("0.00")]
    assert rows[4] == [0, D("0.00"), D("0.00"), D("0.00")]
    assert sum(row[1] for row in rows.values()) == D("1790.00")
    assert all(isinstance(row[1], Decimal) for row in rows.values())


def test_last_year_is_reported_on_its_own(scenario, authority_x):
    rows = reports.monthly_amounts(authority_x, YEAR - 1)
    assert [(m.month, granted) for m, _n, granted, *_ in rows if granted] == [(12, D("777.00"))]


def test_amounts_by_product_class(scenario, authority_x):
    with translation.override("en"):
        rows = reports.amounts_by_class(authority_x, YEAR)
    assert rows == [
        ("Expense cover", 2, D("1040.00")),
        ("Liability and loss cover", 1, D("500.00")),
        ("Financing cover", 1, D("250.00")),
    ]


def test_amounts_by_region_of_a_city_are_by_district(scenario, authority_x):
    assert reports.amounts_by_region(authority_x, YEAR) == [
        ("320214", 3, D("1290.00")),
        ("320205", 1, D("500.00")),
    ]


def test_amounts_by_region_of_a_province_are_by_city(scenario, authority_x):
    Authority.objects.filter(pk=authority_x.pk).update(level=AuthorityLevel.PROVINCE)
    authority_x.refresh_from_db()
    assert reports.amounts_by_region(authority_x, YEAR) == [("320200", 4, D("1790.00"))]


def test_budget_usage_per_programme(scenario, authority_x):
    rows = reports.budget_usage(authority_x, YEAR)
    assert [row[1:] for row in rows] == [
        (D("1000000.00"), D("500.00"), D("1250.00"), D("998250.00")),
        (D("1000000.00"), D("0.00"), D("0.00"), D("1000000.00")),
    ]


def test_cover_counts_each_policy_once_in_the_month_of_its_first_decision(scenario, authority_x):
    rows = {month.month: rest for month, *rest in reports.cover_by_month(authority_x, YEAR)}
    # March: the expense (1m) and liability (2m) policies; May: only the financing one (3m),
    # the expense policy's second request does not count it again.
    assert rows[3] == [2, D("2000000.00") + D("1000000.00")]
    assert rows[5] == [1, D("3000000.00")]
    assert sum(row[0] for row in rows.values()) == 3


def test_another_authority_sees_none_of_it(scenario, authority_y):
    programme(authority_y, code="shenzhen-report")
    assert all(row[1] == 0 for row in reports.monthly_amounts(authority_y, YEAR))
    assert reports.amounts_by_region(authority_y, YEAR) == []
    assert [row[0] for row in reports.budget_usage(authority_y, YEAR)] == [
        "无锡市知识产权保险保费补贴"
    ]
    assert all(row[1] == 0 for row in reports.cover_by_month(authority_y, YEAR))
    assert len(reports.budget_usage(authority_y, YEAR)) == 1


# --- the page ---------------------------------------------------------------------------------


def test_the_page_shows_charts_tables_and_csv_links(client, officer_x, scenario):
    client.force_login(officer_x)
    response = client.get(reverse("officer:reports"), {"year": YEAR})
    assert response.status_code == 200
    html = response.content.decode()
    for key in ("monthly", "classes", "regions", "budgets", "cover"):
        assert f'id="report-{key}"' in html
        assert f"/officer/reports/{key}.csv?year={YEAR}" in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" viewBox=') == 6
    assert html.count('class="report-chart img-fluid"') == 6
    assert "1,790.00" in html  # the monthly table's total
    assert "998,250.00" in html  # budget left
    assert "320205" in html
    assert "<script>" not in re.sub(r"<script[^>]*src=[^>]*></script>", "", html)


def test_the_page_is_only_for_officers(client_a):
    assert client_a.get("/officer/reports/").status_code == 403
    assert client_a.get("/officer/reports/monthly.csv").status_code == 403
    anonymous = client_a.__class__()
    assert anonymous.get("/officer/reports/").status_code == 302


def test_an_officer_sees_only_their_authority(client, officer_y, scenario, authority_y):
    programme(authority_y, code="shenzhen-report", name_zh="深圳市专利保险补贴")
    client.force_login(officer_y)
    html = client.get("/officer/reports/").content.decode()
    assert "深圳市专利保险补贴" in html
    assert "1,790.00" not in html
    assert "320214" not in html
    assert "998,250.00" not in html
    body = client.get("/officer/reports/regions.csv").content.decode("utf-8-sig")
    assert body.strip().splitlines()[1:] == []


def test_programme_names_are_escaped_in_the_chart_and_the_table(client, officer_x, scenario):
    programme(
        scenario["approved"].authority,
        code="evil",
        name_zh="<script>alert(1)</script>补贴",
        name_en="<script>alert(1)</script>",
    )
    client.force_login(officer_x)
    html = client.get("/officer/reports/").content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;补贴" in html
    budgets = html[html.index('id="report-budgets"') :]
    svg = budgets[budgets.index("<svg") : budgets.index("</svg>")]
    assert "&lt;script&gt;" in svg


def test_a_bad_year_falls_back_to_this_year(client, officer_x):
    client.force_login(officer_x)
    response = client.get("/officer/reports/", {"year": "1999'; drop"})
    assert response.status_code == 200
    assert response.context["year"] == YEAR
    assert client.get("/officer/reports/", {"year": "3000"}).context["year"] == YEAR


def test_csv_has_bom_header_and_rows(client, officer_x, scenario):
    client.force_login(officer_x)
    with translation.override("en"):
        response = client.get("/officer/reports/monthly.csv", {"year": YEAR})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 13
    assert len(rows[0]) == 5 and not rows[0][0].startswith("\ufeff")
    assert rows[3] == [f"{YEAR}-03", "2", "1500.00", "500.00", "200.00"]
    assert rows[5] == [f"{YEAR}-05", "2", "290.00", "0.00", "0.00"]


def test_csv_of_budgets_keeps_formulas_as_text(client, officer_x, authority_x):
    programme(authority_x, code="formula", name_zh='=HYPERLINK("http://x")')
    client.force_login(officer_x)
    response = client.get("/officer/reports/budgets.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][0] == '\'=HYPERLINK("http://x")'
    assert rows[1][1:] == ["1000000.00", "0.00", "0.00", "1000000.00"]


def test_unknown_dataset_is_404(client, officer_x):
    client.force_login(officer_x)
    assert client.get("/officer/reports/secrets.csv").status_code == 404


def _grant_many(authority, policies, programmes: int):
    for index in range(programmes):
        prog = programme(authority, code=f"bulk-{programmes}-{index}")
        for number, policy in enumerate(policies):
            grant(
                prog,
                policy,
                status=[RequestStatus.APPROVED, RequestStatus.DISBURSED][number % 2],
                amount="100.00",
                decided_at=at(1 + (index + number) % 12, 10),
                firm=FirmFactory(region_code=f"3202{index % 10:02d}"),
            )


def test_the_number_of_queries_does_not_grow_with_the_requests(
    client, officer_x, authority_x, policies
):
    client.force_login(officer_x)
    client.get("/officer/reports/")  # session and caches warm

    _grant_many(authority_x, policies, 1)
    assert SubsidyRequest.objects.count() == 3
    with CaptureQueriesContext(connection) as few:
        assert client.get("/officer/reports/").status_code == 200

    _grant_many(authority_x, policies, 9)
    assert SubsidyRequest.objects.count() == 30
    with CaptureQueriesContext(connection) as many:
        response = client.get("/officer/reports/")
    assert response.status_code == 200
    assert "3,000.00" in response.content.decode()  # all 30 granted at 100 each
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


# --- the charts -------------------------------------------------------------------------------


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>(?:<title>[^<]*</title>)?([^<]*)</text>", svg)


def test_bar_chart_with_only_zeros_draws_a_baseline_and_no_height():
    svg = charts.bar_chart([("一月", 0), ("二月", D("0.00"))], title="零")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<title>零</title>" in svg and 'aria-label="零"' in svg
    heights = re.findall(r'<rect[^>]* height="([^"]+)"', svg)
    assert heights and all(float(h) == 0 for h in heights)
    assert "nan" not in svg.lower() and "inf" not in svg.lower()


def test_bar_chart_with_a_single_value_fills_the_plot_and_writes_the_value():
    with translation.override("en"):
        svg = charts.bar_chart([("Only", D("1234.50"))], title="One")
    assert "1,234.5" in _texts(svg)
    heights = [float(h) for h in re.findall(r'<rect[^>]* height="([^"]+)"', svg)]
    assert len(heights) == 1 and heights[0] > 100


def test_bar_chart_values_are_to_scale():
    svg = charts.bar_chart([("a", 100), ("b", 50)], title="t")
    first, second = (float(h) for h in re.findall(r'<rect[^>]* height="([^"]+)"', svg))
    assert first == pytest.approx(2 * second, abs=0.2)


def test_long_chinese_labels_are_shortened_with_the_full_label_as_tooltip():
    label = "知识产权海外侵权责任保险专项补贴计划第二批" * 2
    svg = charts.bar_chart([(label, 5), ("短", 3), ("中等长度标签", 1)] * 3, title="长标签")
    shown = [text for text in _texts(svg) if text.startswith("知识产权")]
    assert shown and all(text.endswith("…") and len(text) < len(label) for text in shown)
    assert f"<title>{label}</title>" in svg
    horizontal = charts.bar_chart([(label, 5)], title="长标签", horizontal=True)
    assert any(text.endswith("…") for text in _texts(horizontal))


def test_chart_text_is_escaped():
    svg = charts.bar_chart([('<b>&"x"', 1)], title="<script>alert(1)</script>")
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg and "&lt;b&gt;&amp;&quot;x&quot;" in svg


def test_chart_uses_cjk_fonts_and_no_style_attribute():
    svg = charts.bar_chart([("a", 1)], title="t")
    assert "PingFang SC" in svg and "Microsoft YaHei" in svg and "Noto Sans CJK SC" in svg
    assert "style=" not in svg and "<script" not in svg


def test_empty_chart_says_so():
    with translation.override("en"):
        svg = charts.bar_chart([], title="Nothing")
    assert "No figures for this period." in svg


def test_stacked_bar_shows_shares_and_the_total():
    svg = charts.stacked_bar(
        [("Programme", D("250"), D("250"), D("500")), ("Empty", 0, 0, 0)],
        title="Budget",
        segments=["Paid", "Reserved", "Left"],
    )
    texts = _texts(svg)
    assert texts.count("25%") == 2 and "50%" in texts
    assert "1,000" in texts and "0" in texts
    assert [t for t in texts if t in ("Paid", "Reserved", "Left")] == ["Paid", "Reserved", "Left"]
    with pytest.raises(ValueError):
        charts.stacked_bar([("x", 1)], title="t", segments=["a", "b"])


def test_stacked_bars_add_up():
    svg = charts.bar_chart(
        [("a", 30, 70), ("b", 50, 0)], title="t", series=["x", "y"], stacked=True
    )
    assert "100" in _texts(svg) and "50" in _texts(svg)


@pytest.mark.parametrize(
    ("maximum", "top", "ticks"),
    [
        (D("0.87"), D("1"), 6),
        (7, 8, 5),
        (D("998250"), D("1000000"), 6),
    ],
)
def test_nice_scale(maximum, top, ticks):
    found_top, found_ticks = charts.nice_scale(maximum)
    assert found_top == top and len(found_ticks) == ticks
    assert found_ticks[0] == 0 and found_ticks[-1] == found_top


def test_nice_scale_of_nothing_is_a_unit_axis_with_one_tick():
    assert charts.nice_scale(0) == (D(1), [D(0)])
    assert charts.nice_scale(D("-5")) == (D(1), [D(0)])
    assert charts.nice_scale(1, integer=True) == (D(1), [D(0), D(1)])


@pytest.mark.parametrize(
    ("share", "text"),
    [
        (D("0.25"), "25%"),
        (D("1"), "100%"),
        (D("0.998"), "99.8%"),
        (D("0.0004"), "<0.1%"),
        (0, "0%"),
    ],
)
def test_percent(share, text):
    assert charts.percent(share) == text


def test_short_numbers_in_both_languages():
    with translation.override("zh-hans"):
        assert charts.short_number(D("56000")) == "5.6万"
        assert charts.short_number(D("250000000")) == "2.5亿"
        assert charts.short_number(1234) == "1,234"
    with translation.override("en"):
        assert charts.short_number(D("56000")) == "56k"
        assert charts.short_number(D("1500000")) == "1.5M"
        assert charts.short_number(D("0.50")) == "0.5"
        assert charts.short_number(D("9999")) == "9,999"
    assert charts.fit("短", 100) == "短"
