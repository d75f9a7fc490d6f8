"""Template filters of the public catalogue: bilingual texts and figures."""

from decimal import Decimal, InvalidOperation

from django import template

from portal.choices import AssetKind
from underwriting.models import pick_language

register = template.Library()


@register.filter
def tr(value) -> str:
    """The active language's text of a {"zh": ..., "en": ...} dict (Chinese as the fallback)."""
    return pick_language(value)


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


@register.filter
def money(value) -> str:
    """1764 → "1,764.00"."""
    number = _decimal(value)
    return "" if number is None else f"{number:,.2f}"


@register.filter
def amount(value) -> str:
    """A limit or sum: "150000" → "150,000"; decimals only when there are cents."""
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    if number == number.to_integral_value():
        return f"{number:,.0f}"
    return f"{number:,.2f}"


@register.filter
def number(value) -> str:
    """A rate or factor without trailing zeros: Decimal("0.049000") → "0.049"."""
    figure = _decimal(value)
    if figure is None:
        return "" if value is None else str(value)
    text = format(figure.normalize(), "f")
    return text


@register.filter
def ip_type_label(value) -> str:
    """The display name of an IP type code ("patent" → "Patent" / "专利")."""
    try:
        return str(AssetKind(value).label)
    except ValueError:
        return str(value)
