"""An application's status badge and next step, drawn in Python: they appear on every row of the
application list and the dashboard, where a template include per cell cost a third of the page.
The markup is the one the templates had (underwriting/app/_status_badge.html, _next_step.html)."""

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext

from underwriting.choices import ApplicationStatus
from underwriting.models import Application
from underwriting.templatetags.catalogue import money

register = template.Library()

BADGE_CLASSES = {
    "draft": "text-bg-secondary",
    "submitted": "text-bg-info",
    "referred": "text-bg-warning",
    "info_requested": "text-bg-danger",
    "quoted": "text-bg-success",
    "accepted": "text-bg-primary",
    "declined": "text-bg-dark",
}


_LABELS: dict[tuple[str, str], str] = {}


def _status_label(status: str) -> str:
    # get_status_display() rebuilds the field's choice dict on every call; a list page asks
    # for the same few labels 25 times.
    key = (get_language(), status)
    label = _LABELS.get(key)
    if label is None:
        try:
            label = str(ApplicationStatus(status).label)
        except ValueError:
            label = status
        _LABELS[key] = label
    return label


@register.filter
def application_status_badge(application) -> str:
    status = application.status
    return format_html(
        '<span class="badge application-status {}" data-status="{}">{}</span>',
        BADGE_CLASSES.get(status, "text-bg-light border"),
        status,
        _status_label(status),
    )


@register.filter
def application_next_step(application) -> str:
    status = application.status
    if status == "draft":
        inner = format_html(
            '<a href="{}">{}</a>',
            reverse("applications:resume", args=[application.pk]),
            gettext("Continue the form"),
        )
    elif status in ("submitted", "referred"):
        inner = gettext("Wait for the underwriter")
    elif status == "info_requested":
        inner = format_html(
            '<a href="{}#questions">{}</a>',
            reverse("applications:detail", args=[application.pk]),
            gettext("Answer the underwriter's question"),
        )
    elif status == "quoted":
        inner = format_html(
            '<a href="{}#quote">{}</a>',
            reverse("applications:detail", args=[application.pk]),
            gettext("Accept or withdraw the quote"),
        )
    elif status == "accepted":
        inner = format_html(
            '<a href="{}">{}</a>',
            reverse("policies:list"),
            gettext("See the policy and pay the premium"),
        )
    else:
        inner = gettext("Nothing")
    return format_html('<span class="next-step" data-next-step="{}">{}</span>', status, inner)


# Stands for a row's id in the URLs and next steps written once per page; no label holds it.
_ROW_ID = 987654321987
_LIST_ROW = """
    <tr data-application="{pk}">
      <td><a href="{url}" class="font-monospace">{reference}</a></td>
      <td>{product}</td>
      <td>{badge}</td>
      <td class="text-end text-nowrap">{sum_insured}</td>
      <td class="text-end text-nowrap">{premium}</td>
      <td class="text-nowrap small">{updated}</td>
      <td>{next_step}</td>
    </tr>
  """


@register.filter
def application_list_rows(applications) -> str:
    """The application list's rows as underwriting/app/_application_list_rows.html draws them:
    its 25 rows' template variables, URL reversals and date filters were half the page. A
    status's badge and next step are drawn once a page and given each row's id."""
    placeholder = str(_ROW_ID)
    detail_url = reverse("applications:detail", args=[_ROW_ID])
    by_status: dict[str, tuple[str, str]] = {}
    rows = []
    for application in applications:
        status = application.status
        drawn = by_status.get(status)
        if drawn is None:
            stand_in = Application(pk=_ROW_ID, status=status)
            drawn = by_status[status] = (
                application_status_badge(stand_in),
                application_next_step(stand_in),
            )
        pk = str(application.pk)
        premium = application.live_premium
        rows.append(
            _LIST_ROW.format(
                pk=pk,
                url=escape(detail_url.replace(placeholder, pk)),
                reference=escape(application.reference),
                product=escape(application.product.name),
                badge=drawn[0],
                sum_insured=money(application.sum_insured) if application.sum_insured else "—",
                premium="—" if premium is None else money(premium),
                updated=timezone.localtime(application.updated_at).strftime("%Y-%m-%d %H:%M"),
                next_step=drawn[1].replace(placeholder, pk),
            )
        )
    return mark_safe("".join(rows))  # noqa: S308 — every value above is escaped or markup
