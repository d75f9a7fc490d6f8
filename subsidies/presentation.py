"""Wording for stored subsidy facts, in the reader's language at render time."""

from decimal import Decimal

from django.utils.translation import gettext as _

from subsidies.choices import EligibilityOutcome


def _money(value) -> str:
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (ArithmeticError, ValueError):
        return str(value)


def eligibility_text(result: dict) -> str:
    """One eligibility result (``{"code", "outcome", "params"}``) as a sentence."""
    code, params = result.get("code"), dict(result.get("params") or {})
    for key in ("paid", "premium", "used", "cap", "left"):
        if key in params:
            params[key] = _money(params[key])
    ok = result.get("outcome") == EligibilityOutcome.PASS
    if code == "region":
        if ok:
            return _("Registered in the programme's region (%(firm_region)s).") % params
        return (
            _("Registered in region %(firm_region)s, outside the programme's %(programme_region)s.")
            % params
        )
    if code == "qualification":
        if ok:
            return _("Holds a qualification the programme asks for.")
        return _("Holds none of the firm qualifications the programme asks for.")
    if code == "product":
        if ok:
            return _("Product %(product)s is on the programme's list.") % params
        return _("Product %(product)s is not on the programme's list.") % params
    if code == "ip_kinds":
        if ok:
            return _("Every insured right is of a type the programme covers.")
        return _("Some insured rights are of types the programme does not cover: %(outside)s.") % {
            "outside": ", ".join(params.get("outside", []))
        }
    if code == "paid_in_full":
        if ok:
            return _("Premium paid in full (CNY %(paid)s).") % params
        return _("Premium not paid in full: CNY %(paid)s of %(premium)s.") % params
    if code == "not_twice":
        if ok:
            return _("The policy has no other subsidy.")
        return _("The policy already has a subsidy request: %(others)s.") % {
            "others": ", ".join(params.get("others", []))
        }
    if code == "firm_cap":
        if ok:
            return _("Annual cap per firm: CNY %(used)s used of %(cap)s, %(left)s left.") % params
        return _("The firm's annual cap of CNY %(cap)s is used up.") % params
    if code == "budget":
        if ok:
            return _("Budget left this year: CNY %(left)s.") % params
        return _("The programme's budget for the year is used up.")
    if code == "high_value":
        return _("The firm says the patents are high-value: check the proof before approving.")
    return code or ""
