"""The questionnaire's options drawn in Python are the inputs Django's own widget templates
draw (the template language's; Jinja2 writes a quote as &#34; where Django writes &quot;)."""

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.http import QueryDict
from django.template.loader import render_to_string
from django.utils import translation

from underwriting.forms_app import QuestionnaireForm
from underwriting.models import Questionnaire
from underwriting.templatetags.questionnaire import option_input, question_block

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


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("bound", [False, True])
def test_question_block_matches_the_question_template(seeded_catalogue, db, language, bound):
    """Every question of every seeded questionnaire, unanswered or answered with errors, drawn
    by ``question_block`` as ``underwriting/app/_question.html`` draws it."""
    compared = 0
    with translation.override(language):
        for questionnaire in Questionnaire.objects.all():
            data = QueryDict("_action=next") if bound else None
            form = QuestionnaireForm(questionnaire.questions, data)
            if bound:
                form.is_valid()
                for question in questionnaire.questions[::3]:
                    form.add_error(question["code"], "Not <this> & 'that'")
            for group in form.groups():
                for entry in group["fields"]:
                    expected = render_to_string(
                        "underwriting/app/_question.html", {"entry": entry, "field": entry["field"]}
                    )
                    assert question_block(entry) == expected, entry["question"]["code"]
                    compared += 1
    assert compared > 50
