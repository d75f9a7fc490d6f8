"""What other apps' pages show about subsidies, provided by the subsidies app so that neither
underwriting nor portal imports it:

* ``{% load subsidy_tags %}{% policy_subsidies policy %}`` on the policy page: the programmes that
  may subsidise the policy with the amount to expect and what decided it, and an Apply button or
  the request already made;
* ``{% open_programmes %}`` on the home page: the programmes taking applications now.
"""

from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.translation import gettext

from subsidies import amounts, selectors, services

register = template.Library()

ZERO = Decimal("0.00")


def _money(value) -> str:
    return f"{Decimal(value):,.2f}"


def _percent(value) -> str:
    return format(Decimal(value).normalize(), "f")


def expected_rate(programme, policy) -> Decimal:
    """The rate a request made today would get (without the high-value uplift)."""
    firm = policy.firm
    return amounts.rate_for(
        services.rates_of(programme),
        renewal=services._is_renewal(programme, firm, policy),
        single_champion="single_champion" in (firm.qualifications or []),
        high_value=False,
    )


def decided_text(estimate: amounts.Amount, *, rate, premium_paid) -> str:
    """What decided the expected amount, in words."""
    limit = estimate.limits.get(estimate.decided_by, ZERO)
    if estimate.decided_by == amounts.BY_RATE:
        return gettext("%(rate)s %% of the premium paid (CNY %(paid)s).") % {
            "rate": _percent(rate),
            "paid": _money(premium_paid),
        }
    if estimate.decided_by == amounts.BY_ITEM_CAP:
        text = gettext("Limited by the cap per insured right: CNY %(cap)s for this policy.")
    elif estimate.decided_by == amounts.BY_POLICY_CAP:
        text = gettext("Limited by the cap of CNY %(cap)s per policy.")
    elif estimate.decided_by == amounts.BY_FIRM_YEAR_CAP:
        text = gettext("Limited by what is left of your firm's annual cap: CNY %(cap)s.")
    elif limit <= 0:
        text = gettext("The programme's budget for this year is used up.")
    else:
        text = gettext("Limited by what is left of the programme's budget: CNY %(cap)s.")
    return text % {"cap": _money(limit)}


def offer_rows(policy) -> list[dict]:
    """The open programmes that may subsidise ``policy`` (scoped by the caller), each with the
    expected amount, what decided it, and the request already made under it."""
    paid = services.premium_paid(policy)
    rows = []
    for offer in services.programmes_for_policy(policy):
        programme, estimate = offer["programme"], offer["estimate"]
        rate = expected_rate(programme, policy)
        rows.append(
            {
                "programme": programme,
                "amount": estimate.amount,
                "by_rate": estimate.by_rate,
                "decided_by": estimate.decided_by,
                "capped": estimate.decided_by != amounts.BY_RATE,
                "decided_text": decided_text(estimate, rate=rate, premium_paid=paid),
                "rate": rate,
                "uplift": programme.uplift_high_value or ZERO,
                "request": offer["request"],
            }
        )
    return rows


@register.inclusion_tag("subsidies/_policy_subsidies.html")
def policy_subsidies(policy):
    """The subsidy block of the policy page."""
    subsidisable = policy.status in services.SUBSIDISABLE_POLICY_STATUSES
    offers = offer_rows(policy) if subsidisable else []
    offered = {row["request"].pk for row in offers if row["request"] is not None}
    others = [r for r in selectors.requests_of_policy(policy) if r.pk not in offered]
    return {
        "show": subsidisable or bool(others),
        "policy": policy,
        "offers": offers,
        "others": others,
        "paid_in_full": services.premium_paid_in_full(policy) if offers else False,
    }


@register.inclusion_tag("subsidies/_open_programmes.html")
def open_programmes():
    """The programmes taking applications now, for the home page."""
    return {"programmes": list(selectors.open_programmes(timezone.localdate()))}
