"""The questionnaire's options drawn in Python are the inputs Django's own widget templates
draw (the template language's; Jinja2 writes a quote as &#34; where Django writes &quot;)."""

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates

from underwriting.templatetags.questionnaire import option_input

CHOICES = [("a", "A"), ("b", 'B "quoted" <b>'), ("c&d", "C & D"), (1, "one")]


class Sample(forms.Form):
    default_renderer = DjangoTemplates()
    radio = forms.ChoiceField(
        choices=CHOICES, widget=forms.RadioSelect(attrs={"class": "form-check-input"})
    )
    boxes = forms.MultipleChoiceField(
        choices=CHOICES,
        widget=forms.CheckboxSelectMultiple(
            attrs={"class": "form-check-input", "data-x": 'say "hi" & <bye>', "disabled": False}
        ),
    )
    required_radio = forms.ChoiceField(choices=CHOICES, widget=forms.RadioSelect, required=True)


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"radio": "b", "boxes": ["a", "c&d"], "required_radio": "1"},
        {"radio": "nonsense", "boxes": ["<script>"]},
    ],
)
def test_option_input_matches_the_widget_template(data):
    form = Sample(data)
    if data is not None:
        form.is_valid()
    compared = 0
    for name in ("radio", "boxes", "required_radio"):
        for choice in form[name]:
            assert option_input(choice) == choice.tag(), (name, choice.data)
            compared += 1
    assert compared == 12
