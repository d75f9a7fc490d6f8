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


def _field_errors(field) -> str:
    name = conditional_escape(field.name)
    return "".join(
        f'<div class="invalid-feedback d-block field-error" data-field="{name}">'
        f"{conditional_escape(error)}</div>"
        for error in field.errors
    )


@register.filter
def question_block(entry) -> str:
    """One question of a step, as ``underwriting/app/_question.html`` renders it (a test holds
    the two to the same output): the step's questions were most of its rendering time."""
    escape = conditional_escape
    field, kind = entry["field"], entry["kind"]
    name = escape(field.name)
    label = escape(field.label)
    help_text = field.help_text
    parts = [
        f'\n<div class="mb-4 question{" d-none" if entry["hidden"] else ""}" '
        f'id="question-{name}" data-question="{name}" data-kind="{escape(kind)}"'
    ]
    if entry["show_if_question"]:
        parts.append(
            f' data-show-if="{escape(entry["show_if_question"])}"'
            f' data-show-if-equals="{escape(entry["show_if_equals"])}"'
            f' data-show-if-boolean="{"true" if entry["show_if_boolean"] else "false"}"'
        )
    parts.append(">\n  ")
    errors = _field_errors(field)
    if (
        kind == "multi"
        or kind == "boolean"
        or (kind == "choice" and getattr(field.field.widget, "input_type", None) == "radio")
    ):
        invalid = ' aria-invalid="true"' if field.errors else ""
        parts.append(
            f"\n    <fieldset{invalid}>\n"
            f'      <legend class="form-label fs-6 fw-semibold mb-1">{label}</legend>\n      '
        )
        if help_text:
            parts.append(f'<div class="form-text mt-0 mb-2">{escape(help_text)}</div>')
        inline = ' class="d-flex gap-4"' if kind == "boolean" else ""
        parts.append(f"\n      <div{inline}>\n        ")
        for choice in field:
            parts.append(
                '\n          <div class="form-check">\n            '
                f"{option_input(choice)}\n"
                f'            <label class="form-check-label" for="{escape(choice.id_for_label)}">'
                f"{escape(choice.choice_label)}</label>\n          </div>\n        "
            )
        parts.append(f"\n      </div>\n      {errors}\n\n    </fieldset>\n  ")
    else:
        parts.append(
            f'\n    <label class="form-label fw-semibold" for="{escape(field.id_for_label)}">'
            f"{label}</label>\n    "
        )
        if help_text:
            parts.append(
                f'<div class="form-text mt-0 mb-2" id="{escape(field.auto_id)}_help">'
                f"{escape(help_text)}</div>"
            )
        parts.append("\n    ")
        widget = escape(field)
        unit = entry["unit"]
        if unit:
            number = " number-input" if kind in ("number", "integer") else ""
            parts.append(
                f'\n      <div class="input-group{number}" style="max-width: 22rem">\n'
                f"        {widget}\n"
                f'        <span class="input-group-text">{escape(unit)}</span>\n      </div>\n    '
            )
        elif kind in ("number", "integer"):
            parts.append(f'\n      <div style="max-width: 22rem">{widget}</div>\n    ')
        else:
            parts.append(f"\n      {widget}\n    ")
        parts.append(f"\n    {errors}\n\n  ")
    parts.append("\n</div>\n")
    # Every value above is escaped (option_input escapes its own).
    return mark_safe("".join(parts))  # noqa: S308
