"""The questionnaire's radio buttons and check boxes drawn in Python.

A risk questionnaire shows about a hundred options; each went through a widget template (Django's
input.html and attrs.html), most of a step page's rendering. ``option_input`` writes the same
``<input>`` from the option's data, as ``BoundWidget.tag()`` does without a wrapping label."""

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def option_input(choice) -> str:
    data = choice.data
    kind, name = conditional_escape(data["type"]), conditional_escape(data["name"])
    parts = [f'<input type="{kind}" name="{name}"']
    if data["value"] is not None:
        parts.append(f' value="{conditional_escape(str(data["value"]))}"')
    for attribute, value in data["attrs"].items():
        if value is False:
            continue
        if value is True:
            parts.append(f" {conditional_escape(attribute)}")
        else:
            parts.append(f' {conditional_escape(attribute)}="{conditional_escape(str(value))}"')
    parts.append(">")
    # Every value above is escaped.
    return mark_safe("".join(parts))  # noqa: S308
