"""Charts as inline SVG, drawn on the server: no script, no library, nothing the content security
policy has to allow. Pure functions of their arguments (and the active language, for number
words); every text that goes into the markup passes ``django.utils.html.escape``.

Each chart is ``role="img"`` with a ``<title>`` and an ``aria-label``; pages show the same numbers
in a table beneath it, which is what screen readers and printouts rely on. Colours are set with
SVG presentation attributes (``fill=``), never ``style=``.
"""

import unicodedata
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

# Latin first, then the Chinese faces of macOS, Windows and Linux.
FONT_FAMILY = (
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'PingFang SC', 'Hiragino Sans GB', "
    "'Microsoft YaHei', 'Noto Sans CJK SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', "
    "sans-serif"
)
# Distinguishable for the common colour-vision deficiencies (after Okabe and Ito), dark enough
# for white text.
PALETTE = ("#0b5cad", "#d55e00", "#009e73", "#7b4fa0", "#b8860b", "#cc79a7")
MUTED = "#dee2e6"
AXIS = "#6c757d"
GRID = "#e9ecef"
TEXT = "#212529"
FONT_SIZE = 12
SMALL = 11
ELLIPSIS = "…"
# Room left of row labels: the width of a text is only an estimate.
LABEL_PAD = 6
# The narrowest a part of a progress bar is drawn when it is not zero, so that it shows.
MIN_PART = 2.0

Row = Sequence  # (label, value, ...)


# --- text and numbers -------------------------------------------------------------------------


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """An estimate of the rendered width: a Chinese character is about 1 em, Latin about 0.6."""
    return sum(
        size if unicodedata.east_asian_width(char) in ("W", "F") else size * 0.6
        for char in str(text)
    )


def fit(text: str, width: float, size: float = FONT_SIZE) -> str:
    """The text, cut with an ellipsis where it would be wider than ``width``."""
    text = str(text)
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + ELLIPSIS, size) > width:
        text = text[:-1]
    return text + ELLIPSIS if text else ""


def _decimal(value) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)


def _plain(number: Decimal, places: int) -> str:
    text = f"{number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def short_number(value) -> str:
    """A figure for an axis or a bar: 1234 → "1,234", 56000 → "5.6万" (Chinese) or "56k"."""
    number = _decimal(value)
    if (get_language() or "zh").startswith("zh"):
        units = ((Decimal(10) ** 8, "亿"), (Decimal(10) ** 4, "万"))
    else:
        units = ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "k"))
    for size, word in units:
        # Thousands are written out below 10,000 ("1,290", not "1.3k"), as 万 starts there.
        if abs(number) >= max(size, Decimal(10000)):
            scaled = number / size
            return _plain(scaled, 1 if abs(scaled) < 100 else 0) + word
    if number == number.to_integral_value():
        return f"{number:,.0f}"
    return _plain(number, 2)


def percent(share: Decimal) -> str:
    """A share (0..1) as a percentage: whole numbers, but "99.8%" rather than a misleading
    "100%", and "0.1%" rather than "0%"."""
    value = _decimal(share) * 100
    whole = value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if whole == value or Decimal(1) <= value <= Decimal(99):
        return f"{whole}%"
    tenth = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if tenth in (0, 100) and tenth != value:
        return "<0.1%" if tenth == 0 else ">99.9%"
    return f"{_plain(tenth, 1)}%"


def nice_scale(maximum, *, integer: bool = False, steps: int = 5) -> tuple[Decimal, list[Decimal]]:
    """A round top for the axis and its ticks from 0: 0.87 million → 1 million in 0.2 steps."""
    maximum = max(_decimal(maximum), Decimal(0))
    if maximum == 0:
        return Decimal(1), [Decimal(0)]
    raw = maximum / steps
    magnitude = Decimal(1).scaleb(raw.adjusted())
    step = next(m * magnitude for m in (1, 2, Decimal("2.5"), 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(step.to_integral_value(rounding="ROUND_CEILING"), Decimal(1))
    ticks = [Decimal(0)]
    while ticks[-1] < maximum:
        ticks.append(ticks[-1] + step)
    return ticks[-1], ticks


def _ink(colour: str) -> str:
    """Black or white, whichever reads better on the colour."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return TEXT if (red * 299 + green * 587 + blue * 114) / 1000 > 150 else "#ffffff"


# --- markup -----------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") or "0"


def _attributes(attributes: dict) -> str:
    parts = []
    for name, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, float):
            value = _number(value)
        parts.append(f' {name.rstrip("_").replace("_", "-")}="{escape(value)}"')
    return "".join(parts)


def _element(tag: str, content: str = "", **attributes) -> str:
    """An element; ``content`` is markup already escaped."""
    return f"<{tag}{_attributes(attributes)}>{content}</{tag}>"


def _tooltip(text: str) -> str:
    return _element("title", escape(text))


def _text(x, y, text: str, *, full: str | None = None, **attributes) -> str:
    """A text; ``full`` (when the shown text was shortened) becomes its tooltip."""
    content = escape(text)
    if full is not None and full != text:
        content = _tooltip(full) + content
    attributes.setdefault("fill", TEXT)
    return _element("text", content, x=float(x), y=float(y), **attributes)


def _svg(width: int, height: int, title: str, body: list[str], description: str = "") -> SafeString:
    head = _tooltip(title)
    if description:
        head += _element("desc", escape(description))
    markup = _element(
        "svg",
        head + "".join(body),
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {width} {height}",
        width=width,
        height=height,
        role="img",
        aria_label=title,
        class_="report-chart img-fluid",
        font_family=FONT_FAMILY,
        font_size=FONT_SIZE,
    )
    # Every text and attribute value above went through escape().
    return mark_safe(markup)  # noqa: S308


def _empty(width: int, height: int, title: str) -> SafeString:
    message = _("No figures for this period.")
    body = [
        _element(
            "rect", x=0.5, y=0.5, width=width - 1, height=height - 1, fill="none", stroke=GRID
        ),
        _text(width / 2, height / 2, message, text_anchor="middle", fill=AXIS),
    ]
    return _svg(width, height, title, body, message)


def _legend(names: Sequence[str], colours: Sequence[str], x: float, y: float) -> list[str]:
    parts = []
    for name, colour in zip(names, colours, strict=True):
        parts.append(_element("rect", x=x, y=y - 9, width=10, height=10, fill=colour))
        parts.append(_text(x + 14, y, name, font_size=SMALL))
        x += 14 + text_width(name, SMALL) + 16
    return parts


def _colours(count: int, colours: Sequence[str] | None) -> list[str]:
    chosen = list(colours or PALETTE)
    return [chosen[i % len(chosen)] for i in range(count)]


# --- charts -----------------------------------------------------------------------------------


def bar_chart(
    rows: Sequence[Row],
    *,
    title: str,
    series: Sequence[str] | None = None,
    stacked: bool = False,
    horizontal: bool = False,
    colours: Sequence[str] | None = None,
    width: int = 640,
    height: int = 280,
) -> SafeString:
    """Bars for rows of ``(label, value)``, or ``(label, value, value, ...)`` with one name per
    value in ``series`` (a legend is drawn). Several values per row stand side by side, or on top
    of each other with ``stacked``; the bar's value (the total when stacked) is written at its
    end where it fits. ``horizontal`` lays the bars across, for long labels or many rows (the
    height then follows the number of rows)."""
    title = str(title)
    rows = [(str(row[0]), *[max(_decimal(v), Decimal(0)) for v in row[1:]]) for row in rows]
    if not rows:
        return _empty(width, height, title)
    count = len(rows[0]) - 1
    names = [str(name) for name in (series or [])]
    if names and len(names) != count:
        raise ValueError("One series name per value of a row.")
    fills = _colours(count, colours)
    integer = all(value == value.to_integral_value() for row in rows for value in row[1:])
    totals = [sum(row[1:], Decimal(0)) for row in rows]
    peak = max(totals) if stacked else max(max(row[1:]) for row in rows)
    top, ticks = nice_scale(peak, integer=integer)
    legend_height = 22 if names else 0
    if horizontal:
        return _horizontal_bars(
            rows, title, names, fills, stacked, totals, top, ticks, width, legend_height
        )

    margin_left = max(text_width(short_number(tick), SMALL) for tick in ticks) + 12
    margin_top, margin_bottom, margin_right = 20 + legend_height, 28, 8
    plot_width = width - margin_left - margin_right
    plot_height = height - margin_top - margin_bottom
    baseline = margin_top + plot_height
    band = plot_width / len(rows)
    group = band * 0.72
    bar = group if stacked or count == 1 else group / count

    def y_of(value: Decimal) -> float:
        return baseline - float(value / top) * plot_height

    body = _legend(names, fills, margin_left, 14) if names else []
    for tick in ticks:
        y = y_of(tick)
        body.append(
            _element("line", x1=margin_left, x2=width - margin_right, y1=y, y2=y, stroke=GRID)
        )
        body.append(
            _text(
                margin_left - 6,
                y + 4,
                short_number(tick),
                text_anchor="end",
                font_size=SMALL,
                fill=AXIS,
            )
        )
    for index, row in enumerate(rows):
        label, values = row[0], row[1:]
        left = margin_left + band * index + (band - group) / 2
        bottom = Decimal(0)
        for position, value in enumerate(values):
            x = left if stacked else left + bar * position
            lower = bottom if stacked else Decimal(0)
            upper = lower + value
            tip = (
                f"{label} · {names[position]}: {short_number(value)}"
                if names
                else (f"{label}: {short_number(value)}")
            )
            body.append(
                _element(
                    "rect",
                    _tooltip(tip),
                    x=x,
                    y=y_of(upper),
                    width=max(bar - 1, 1.0),
                    height=y_of(lower) - y_of(upper),
                    fill=fills[position],
                )
            )
            if stacked:
                bottom = upper
            else:
                _value_label(body, value, x + bar / 2, y_of(upper), bar + band - group)
        if stacked:
            _value_label(body, totals[index], left + group / 2, y_of(totals[index]), band)
        body.append(
            _text(
                margin_left + band * index + band / 2,
                baseline + 16,
                fit(label, band - 2, SMALL),
                full=label,
                text_anchor="middle",
                font_size=SMALL,
            )
        )
    body.append(
        _element(
            "line", x1=margin_left, x2=width - margin_right, y1=baseline, y2=baseline, stroke=AXIS
        )
    )
    return _svg(width, height, title, body)


def _value_label(body: list[str], value: Decimal, x: float, y: float, room: float) -> None:
    text = short_number(value)
    if text_width(text, SMALL) <= room:
        body.append(_text(x, y - 4, text, text_anchor="middle", font_size=SMALL))


def _horizontal_bars(rows, title, names, fills, stacked, totals, top, ticks, width, legend_height):
    count = len(rows[0]) - 1
    row_height = 26 if stacked or count == 1 else 14 * count + 10
    labels = [row[0] for row in rows]
    label_width = (
        LABEL_PAD + min(max(text_width(label, SMALL) for label in labels), width * 0.35) + 8
    )
    value_room = max(text_width(short_number(v), SMALL) for v in [*totals, *ticks]) + 8
    margin_top, margin_bottom = 8 + legend_height, 22
    plot_left = label_width
    plot_width = width - plot_left - value_room
    height = margin_top + row_height * len(rows) + margin_bottom
    baseline = height - margin_bottom

    def x_of(value: Decimal) -> float:
        return plot_left + float(value / top) * plot_width

    body = _legend(names, fills, plot_left, 14) if names else []
    for tick in ticks:
        x = x_of(tick)
        body.append(_element("line", x1=x, x2=x, y1=margin_top, y2=baseline, stroke=GRID))
        body.append(
            _text(
                x,
                baseline + 15,
                short_number(tick),
                text_anchor="middle",
                font_size=SMALL,
                fill=AXIS,
            )
        )
    for index, row in enumerate(rows):
        label, values = row[0], row[1:]
        top_y = margin_top + row_height * index + 5
        thickness = (row_height - 10) if stacked or count == 1 else 12
        body.append(
            _text(
                plot_left - 8,
                margin_top + row_height * index + row_height / 2 + 4,
                fit(label, label_width - 8 - LABEL_PAD, SMALL),
                full=label,
                text_anchor="end",
                font_size=SMALL,
            )
        )
        start = Decimal(0)
        for position, value in enumerate(values):
            lower = start if stacked else Decimal(0)
            y = top_y if stacked or count == 1 else top_y + 14 * position
            tip = (
                f"{label} · {names[position]}: {short_number(value)}"
                if names
                else (f"{label}: {short_number(value)}")
            )
            body.append(
                _element(
                    "rect",
                    _tooltip(tip),
                    x=x_of(lower),
                    y=y,
                    width=x_of(lower + value) - x_of(lower),
                    height=thickness,
                    fill=fills[position],
                )
            )
            if stacked:
                start += value
            else:
                body.append(
                    _text(
                        x_of(value) + 4, y + thickness / 2 + 4, short_number(value), font_size=SMALL
                    )
                )
        if stacked:
            body.append(
                _text(
                    x_of(totals[index]) + 4,
                    top_y + thickness / 2 + 4,
                    short_number(totals[index]),
                    font_size=SMALL,
                )
            )
    body.append(
        _element("line", x1=plot_left, x2=plot_left, y1=margin_top, y2=baseline, stroke=AXIS)
    )
    return _svg(width, height, title, body)


def _widths(parts: Sequence[Decimal], full: float) -> list[float]:
    """The parts' widths in a bar ``full`` wide; a part that is not zero is at least
    ``MIN_PART`` wide, taken from the widest part."""
    total = sum(parts, Decimal(0))
    if not total or full <= 0:
        return [0.0 for _part in parts]
    widths = [full * float(part / total) for part in parts]
    thin = [i for i, part in enumerate(parts) if part > 0 and widths[i] < MIN_PART]
    if thin and len(thin) < len(parts):
        widest = max(range(len(parts)), key=lambda i: widths[i])
        for i in thin:
            widths[widest] -= MIN_PART - widths[i]
            widths[i] = MIN_PART
    return widths


def stacked_bar(
    rows: Sequence[Row],
    *,
    title: str,
    segments: Sequence[str],
    colours: Sequence[str] | None = None,
    width: int = 640,
    normalise: bool = True,
) -> SafeString:
    """Progress bars: for rows of ``(label, part, part, ...)`` one horizontal bar per row, its
    parts side by side in the order of ``segments`` (their names, for the legend). With
    ``normalise`` every bar is the full width and the parts are shares (written as percentages
    where they fit); otherwise the bars are to the scale of the largest total. The row's total is
    written after the bar."""
    title = str(title)
    names = [str(name) for name in segments]
    fills = _colours(len(names), colours)
    rows = [(str(row[0]), *[max(_decimal(v), Decimal(0)) for v in row[1:]]) for row in rows]
    if not rows:
        return _empty(width, 120, title)
    if any(len(row) - 1 != len(names) for row in rows):
        raise ValueError("One segment name per part of a row.")
    totals = [sum(row[1:], Decimal(0)) for row in rows]
    largest = max(totals)
    row_height = 34
    legend_top = 22
    labels = [row[0] for row in rows]
    label_width = (
        LABEL_PAD + min(max(text_width(label, SMALL) for label in labels), width * 0.3) + 8
    )
    total_room = max(text_width(short_number(total), SMALL) for total in totals) + 10
    bar_width = width - label_width - total_room
    height = legend_top + row_height * len(rows) + 6
    body = _legend(names, fills, label_width, 14)
    for index, row in enumerate(rows):
        label, parts, total = row[0], row[1:], totals[index]
        y = legend_top + row_height * index + 6
        thickness = row_height - 12
        if normalise:
            full = bar_width if total else 0.0
        else:
            full = bar_width * float(total / largest) if largest else 0.0
        body.append(
            _text(
                label_width - 8,
                y + thickness / 2 + 4,
                fit(label, label_width - 8 - LABEL_PAD, SMALL),
                full=label,
                text_anchor="end",
                font_size=SMALL,
            )
        )
        # The track shows the full width even when the row is all zeros.
        body.append(
            _element("rect", x=label_width, y=y, width=bar_width, height=thickness, fill="#f8f9fa")
        )
        x = float(label_width)
        for position, (part, part_width) in enumerate(
            zip(parts, _widths(parts, full), strict=True)
        ):
            if part_width <= 0:
                continue
            share = part / total
            tip = f"{label} · {names[position]}: {short_number(part)} ({percent(share)})"
            body.append(
                _element(
                    "rect",
                    _tooltip(tip),
                    x=x,
                    y=y,
                    width=part_width,
                    height=thickness,
                    fill=fills[position],
                )
            )
            shown = percent(share) if normalise else short_number(part)
            if text_width(shown, SMALL) + 6 <= part_width:
                body.append(
                    _text(
                        x + part_width / 2,
                        y + thickness / 2 + 4,
                        shown,
                        text_anchor="middle",
                        font_size=SMALL,
                        fill=_ink(fills[position]),
                    )
                )
            x += part_width
        body.append(
            _text(
                label_width + bar_width + 6,
                y + thickness / 2 + 4,
                short_number(total),
                font_size=SMALL,
            )
        )
    return _svg(width, height, title, body)
