"""The officer's reports, under /officer/reports/: the white paper's figures for the officer's
authority and a year (``?year=``), each as a chart, the same numbers as a table, and a CSV file.

The URLconf includes ``report_patterns`` in the "officer" namespace: ``officer:reports`` and
``officer:reports_csv`` (``/officer/reports/<dataset>.csv``).
"""

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import dateformat
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.officer_views import officer_required
from subsidies import charts, reports
from subsidies.services import officer_authority

MIN_YEAR, MAX_YEAR = 2000, 2100
# Cells a spreadsheet would run as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Dataset:
    key: str
    title: str
    fetch: Callable
    headers: tuple
    # One per column: "text", "month", "count" or "money".
    kinds: tuple
    total: bool = True


DATASETS = {
    dataset.key: dataset
    for dataset in (
        Dataset(
            "monthly",
            gettext_lazy("Subsidy granted by month of decision"),
            reports.monthly_amounts,
            (
                gettext_lazy("Month"),
                gettext_lazy("Requests granted"),
                gettext_lazy("Granted (CNY)"),
                gettext_lazy("Of which paid (CNY)"),
                gettext_lazy("Clawed back (CNY)"),
            ),
            ("month", "count", "money", "money", "money"),
        ),
        Dataset(
            "classes",
            gettext_lazy("Subsidy granted by product class"),
            reports.amounts_by_class,
            (
                gettext_lazy("Product class"),
                gettext_lazy("Requests granted"),
                gettext_lazy("Granted (CNY)"),
            ),
            ("text", "count", "money"),
        ),
        Dataset(
            "regions",
            gettext_lazy("Subsidy granted by region of the firm"),
            reports.amounts_by_region,
            (
                gettext_lazy("Region code"),
                gettext_lazy("Requests granted"),
                gettext_lazy("Granted (CNY)"),
            ),
            ("text", "count", "money"),
        ),
        Dataset(
            "budgets",
            gettext_lazy("Budget used and left per programme"),
            reports.budget_usage,
            (
                gettext_lazy("Programme"),
                gettext_lazy("Budget (CNY)"),
                gettext_lazy("Paid (CNY)"),
                gettext_lazy("Reserved by approvals (CNY)"),
                gettext_lazy("Left (CNY)"),
            ),
            ("text", "money", "money", "money", "money"),
        ),
        Dataset(
            "cover",
            gettext_lazy("Cover written under subsidy by month"),
            reports.cover_by_month,
            (
                gettext_lazy("Month"),
                gettext_lazy("Policies"),
                gettext_lazy("Sum insured (CNY)"),
            ),
            ("month", "count", "money"),
        ),
    )
}


def _year(request) -> int:
    try:
        year = int(request.GET.get("year", ""))
    except ValueError:
        return reports.default_year()
    return year if MIN_YEAR <= year <= MAX_YEAR else reports.default_year()


def _authority(request):
    authority = officer_authority(request.user)
    if authority is None:  # officer_required already answered 403 to everyone else
        raise Http404
    return authority


def _month_label(month: date) -> str:
    """Short, in the reader's language, for a chart's axis: "三月", "Mar"."""
    return dateformat.format(month, "M")


def _cell(value, kind: str) -> dict:
    if kind == "month":
        return {"text": value.strftime("%Y-%m"), "number": False}
    if kind == "money":
        return {"text": f"{value:,.2f}", "number": True}
    if kind == "count":
        return {"text": f"{value:,}", "number": True}
    return {"text": str(value), "number": False}


def _totals(dataset: Dataset, rows) -> list[dict] | None:
    if not dataset.total or not rows:
        return None
    cells = [{"text": gettext("Total"), "number": False}]
    for column, kind in enumerate(dataset.kinds[1:], start=1):
        if kind in ("money", "count"):
            start = Decimal("0.00") if kind == "money" else 0
            cells.append(_cell(sum((row[column] for row in rows), start), kind))
        else:
            cells.append({"text": "", "number": False})
    return cells


def _charts(key: str, rows) -> list:
    """The figure(s) of a dataset, drawn from the very rows of its table."""
    if key == "monthly":
        return [
            charts.bar_chart(
                [(_month_label(m), paid, granted - paid) for m, _n, granted, paid, _c in rows],
                title=DATASETS[key].title,
                series=[gettext("Paid"), gettext("Granted, not yet paid")],
                stacked=True,
            )
        ]
    if key in ("classes", "regions"):
        return [
            charts.bar_chart(
                [(label, amount) for label, _count, amount in rows],
                title=DATASETS[key].title,
                horizontal=True,
            )
        ]
    if key == "budgets":
        return [
            charts.stacked_bar(
                [(name, paid, reserved, left) for name, _amount, paid, reserved, left in rows],
                title=DATASETS[key].title,
                segments=[gettext("Paid"), gettext("Reserved by approvals"), gettext("Left")],
                colours=[charts.PALETTE[0], charts.PALETTE[1], charts.MUTED],
            )
        ]
    if key == "cover":
        return [
            charts.bar_chart(
                [(_month_label(m), policies) for m, policies, _insured in rows],
                title=gettext("Policies written under subsidy by month"),
                height=220,
            ),
            charts.bar_chart(
                [(_month_label(m), insured) for m, _policies, insured in rows],
                title=gettext("Sum insured under subsidy by month"),
                colours=[charts.PALETTE[2]],
                height=220,
            ),
        ]
    return []


@officer_required
@require_GET
@never_cache
def reports_page(request):
    authority = _authority(request)
    year = _year(request)
    sections = []
    for key, dataset in DATASETS.items():
        rows = dataset.fetch(authority, year)
        sections.append(
            {
                "key": key,
                "title": dataset.title,
                "headers": dataset.headers,
                "rows": [
                    [_cell(value, kind) for value, kind in zip(row, dataset.kinds, strict=True)]
                    for row in rows
                ],
                "totals": _totals(dataset, rows),
                "charts": _charts(key, rows),
                "csv_url": f"{reverse('officer:reports_csv', kwargs={'dataset': key})}?year={year}",
            }
        )
    years = reports.available_years(authority)
    if year not in years:
        years = sorted({*years, year}, reverse=True)
    return render(
        request,
        "officer/reports.html",
        {
            "authority": authority,
            "year": year,
            "years": years,
            "region_digits": reports.region_digits(authority),
            "sections": sections,
        },
    )


def _csv_value(value, kind: str) -> str:
    if kind == "month":
        return value.strftime("%Y-%m")
    if kind == "money":
        return f"{value:.2f}"
    text = str(value)
    # A programme named "=HYPERLINK(...)" stays text in a spreadsheet.
    return "'" + text if kind == "text" and text.startswith(FORMULA_START) else text


@officer_required
@require_GET
@never_cache
def reports_csv(request, dataset: str):
    chosen = DATASETS.get(dataset)
    if chosen is None:
        raise Http404
    authority = _authority(request)
    year = _year(request)
    rows = chosen.fetch(authority, year)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="subsidy-{dataset}-{authority.region_code}-{year}.csv"'
    )
    # The byte-order mark makes Excel read the file as UTF-8 (Chinese names stay legible).
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([str(header) for header in chosen.headers])
    for row in rows:
        writer.writerow(
            [_csv_value(value, kind) for value, kind in zip(row, chosen.kinds, strict=True)]
        )
    return response


report_patterns = [
    path("reports/", reports_page, name="reports"),
    path("reports/<slug:dataset>.csv", reports_csv, name="reports_csv"),
]
