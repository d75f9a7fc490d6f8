"""An application's status badge and next step, drawn in Python: they appear on every row of the
application list and the dashboard, where a template include per cell cost a third of the page.
The markup is the one the templates had (underwriting/app/_status_badge.html, _next_step.html)."""

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import get_language, gettext

from underwriting.choices import ApplicationStatus

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
