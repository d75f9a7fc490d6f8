"""The figures of the subsidy white paper for one authority and one year, aggregated in the
database: every function runs one query whatever the number of requests, and returns plain rows
(tuples whose first item is the row's label) with money as ``Decimal``.

Months are calendar months in Asia/Shanghai. A request counts in a year and a month by the time
of the officer's decision (``decided_at``); what counts as subsidy granted are the requests now
approved, published for objections or paid. Requests whose money was clawed back are left out of
those sums; the amounts recovered are reported on their own.
"""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Substr, TruncMonth
from django.utils import timezone

from portal.choices import AuthorityLevel
from subsidies.choices import RequestStatus
from subsidies.models import Budget, SubsidyRequest
from underwriting.choices import LiabilityClass
from underwriting.models import Policy

SHANGHAI = ZoneInfo("Asia/Shanghai")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Requests whose subsidy is granted: reserved in the budget or paid.
GRANTED = (RequestStatus.APPROVED, RequestStatus.PUBLICISED, RequestStatus.DISBURSED)
_MONEY_FIELD = DecimalField(max_digits=18, decimal_places=2)


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


def _sum(field: str, **filters):
    condition = Q(**filters) if filters else None
    return Coalesce(Sum(field, filter=condition), Value(ZERO), output_field=_MONEY_FIELD)


def default_year() -> int:
    return timezone.localdate().year


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The year as an interval of aware datetimes, Shanghai time: [1 January, next 1 January)."""
    return datetime(year, 1, 1, tzinfo=SHANGHAI), datetime(year + 1, 1, 1, tzinfo=SHANGHAI)


def months_of(year: int) -> list[date]:
    return [date(year, month, 1) for month in range(1, 13)]


def decided_in(authority, year: int) -> QuerySet:
    """The authority's requests decided during the year (Shanghai time)."""
    start, end = year_bounds(year)
    return SubsidyRequest.objects.filter(
        authority=authority, decided_at__gte=start, decided_at__lt=end
    ).order_by()


def _month_key(value) -> date | None:
    """A TruncMonth result (an aware datetime, or a date on some backends) as the month's day 1."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = value.astimezone(SHANGHAI)
        return date(value.year, value.month, 1)
    return date(value.year, value.month, 1)


def _by_month(queryset: QuerySet, field: str, **aggregates) -> dict[date, dict]:
    rows = (
        queryset.annotate(month=TruncMonth(field, tzinfo=SHANGHAI))
        .values("month")
        .annotate(**aggregates)
        .order_by("month")
    )
    return {_month_key(row.pop("month")): row for row in rows}


def monthly_amounts(authority, year: int) -> list[tuple[date, int, Decimal, Decimal, Decimal]]:
    """Figure: subsidy granted by month of decision. One row per month of the year:
    (month, requests granted, amount granted, of which paid, amount clawed back)."""
    found = _by_month(
        decided_in(authority, year),
        "decided_at",
        requests=Count("pk", filter=Q(status__in=GRANTED)),
        granted=_sum("approved_amount", status__in=GRANTED),
        paid=_sum("approved_amount", status=RequestStatus.DISBURSED),
        clawed_back=_sum("clawed_back_amount", status=RequestStatus.CLAWED_BACK),
    )
    rows = []
    for month in months_of(year):
        row = found.get(month, {})
        rows.append(
            (
                month,
                row.get("requests", 0),
                _money(row.get("granted")),
                _money(row.get("paid")),
                _money(row.get("clawed_back")),
            )
        )
    return rows


def amounts_by_class(authority, year: int) -> list[tuple[str, int, Decimal]]:
    """Figure: subsidy granted by product class (expense, liability and loss, financing cover):
    (class label, requests, amount). Every class is listed, those without requests with zeros."""
    found = {
        row["policy__product__liability_class"]: row
        for row in decided_in(authority, year)
        .filter(status__in=GRANTED)
        .values("policy__product__liability_class")
        .annotate(requests=Count("pk"), amount=_sum("approved_amount"))
    }
    rows = []
    for choice in LiabilityClass:
        row = found.pop(choice.value, {})
        rows.append((str(choice.label), row.get("requests", 0), _money(row.get("amount"))))
    # A class the catalogue no longer knows still adds up.
    for code, row in sorted(found.items()):
        rows.append((code or "—", row["requests"], _money(row["amount"])))
    return rows


def region_digits(authority) -> int:
    """A province sees its cities (the first 4 digits of the region code), a city or a district
    the districts (all 6)."""
    return 4 if authority.level == AuthorityLevel.PROVINCE else 6


def amounts_by_region(authority, year: int) -> list[tuple[str, int, Decimal]]:
    """Figure: subsidy granted by the firm's region: (region code, requests, amount), the
    largest amount first. A province's rows are cities, shown by their code ("320200")."""
    digits = region_digits(authority)
    found = (
        decided_in(authority, year)
        .filter(status__in=GRANTED)
        .values(region=Substr("firm__region_code", 1, digits))
        .annotate(requests=Count("pk"), amount=_sum("approved_amount"))
    )
    rows = [
        ((row["region"] or "").ljust(6, "0"), row["requests"], _money(row["amount"]))
        for row in found
    ]
    rows.sort(key=lambda row: (-row[2], row[0]))
    return rows


def budget_usage(authority, year: int) -> list[tuple[str, Decimal, Decimal, Decimal, Decimal]]:
    """Figure: each programme's budget for the year: (programme, budget, paid, reserved, left)."""
    budgets = (
        Budget.objects.filter(programme__authority=authority, year=year)
        .select_related("programme")
        .order_by("programme__code")
    )
    return [
        (
            budget.programme.name,
            _money(budget.amount),
            _money(budget.paid),
            _money(budget.committed),
            _money(budget.left),
        )
        for budget in budgets
    ]


def cover_by_month(authority, year: int) -> list[tuple[date, int, Decimal]]:
    """Figure: cover written under subsidy: (month, policies, total sum insured) of the policies
    with a granted request decided that month. A policy subsidised by two of the authority's
    programmes counts once, in the month of its first decision."""
    granted = decided_in(authority, year).filter(status__in=GRANTED)
    first_decision = (
        granted.filter(policy=OuterRef("pk")).order_by("decided_at").values("decided_at")[:1]
    )
    found = _by_month(
        Policy.objects.filter(pk__in=granted.values("policy"))
        .order_by()
        .annotate(first_decided=Subquery(first_decision)),
        "first_decided",
        policies=Count("pk"),
        insured=_sum("sum_insured"),
    )
    rows = []
    for month in months_of(year):
        row = found.get(month, {})
        rows.append((month, row.get("policies", 0), _money(row.get("insured"))))
    return rows


def available_years(authority) -> list[int]:
    """Years worth offering: those with a budget, and the current one; the latest first."""
    years = set(
        Budget.objects.filter(programme__authority=authority)
        .order_by()
        .values_list("year", flat=True)
        .distinct()
    )
    years.add(default_year())
    return sorted(years, reverse=True)
