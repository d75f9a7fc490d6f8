"""Forms of the application wizard: the cover step, questionnaires built from their data, and the
translations of the services' answer errors and the valuation's explanation rows.

The forms collect and re-display what the applicant typed; the services decide what is valid
(``services.AnswersInvalid``) and the errors they report are attached to the fields here.
"""

from decimal import Decimal, InvalidOperation

from django import forms
from django.forms.renderers import Jinja2
from django.forms.utils import ErrorDict
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from underwriting.models import pick_language
from underwriting.questionnaires import FALSE_WORDS, TRUE_WORDS, AnswerError, is_shown
from underwriting.services.applications import DEDUCTIBLE_INPUT
from underwriting.templatetags.catalogue import amount, number

# --- Translated messages ----------------------------------------------------------------------

ANSWER_ERRORS = {
    AnswerError.REQUIRED: _("Please answer this question."),
    AnswerError.NOT_AN_OPTION: _("Choose one of the options offered."),
    AnswerError.NOT_A_NUMBER: _("Enter a number, for example 1200000 or 12.5."),
    AnswerError.NOT_AN_INTEGER: _("Enter a whole number."),
    AnswerError.BELOW_MIN: _("Enter %(min)s or more."),
    AnswerError.ABOVE_MAX: _("Enter %(max)s or less."),
    AnswerError.NOT_YES_NO: _("Answer yes or no."),
    AnswerError.TOO_LONG: _("Keep the answer under %(max)s characters."),
}


def answer_error_message(error) -> str:
    """The active language's message for a questionnaire error ``(key, params)``; a plain string
    (the cover step's errors are already translated) is returned as it is."""
    if isinstance(error, str):
        return error
    try:
        key, params = error
    except (TypeError, ValueError):
        return str(error)
    template = ANSWER_ERRORS.get(key)
    if template is None:
        return gettext("Please check this answer.")
    shown = {name: figure(value) for name, value in (params or {}).items()}
    try:
        return str(template) % shown
    except (KeyError, TypeError, ValueError):
        return str(template)


# Rows of the valuation's explanation table, by ``label_key`` (see underwriting.valuation).
EFFECT_LABELS = {
    "annual_revenue": _("Revenue attributable to the patent"),
    "royalty_rate": _("Royalty rate"),
    "economic_life_years": _("Economic life"),
    "discount_rate": _("Discount rate"),
    "tax_rate": _("Tax rate"),
    "growth_rate": _("Revenue growth"),
    "rd_cost": _("R&D cost"),
    "obsolescence": _("Obsolescence"),
    "remaining_term_years": _("Remaining term (years)"),
    "remaining_term": _("Remaining term"),
    "family": _("Patent family"),
    "invalidation": _("Invalidation history"),
    "claims": _("Claims of the patent"),
    "non_circumventability": _("Difficulty of designing around"),
    "maturity": _("Technical maturity"),
    "substitutes": _("Substitute technologies"),
    "market_share": _("Market share"),
    "sales": _("Sales"),
    "licensing": _("Licensing"),
}
DIMENSION_LABELS = {
    "legal": _("Legal"),
    "technical": _("Technical"),
    "economic": _("Economic"),
}


def figure(value) -> str:
    """A number as typed, with thousands separators: "5000000" → "5,000,000", "12.5" → "12.5".
    Anything that is not a number is returned unchanged."""
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    if number == number.to_integral_value():
        return f"{number:,.0f}"
    return f"{number.normalize():,f}"


def effect_rows(valuation: dict) -> dict:
    """The stored valuation's explanation rows, split into value and score rows, labelled."""
    value_rows, score_rows = [], []
    for row in (valuation or {}).get("effects") or []:
        key = str(row.get("key") or "")
        label_key = row.get("label_key") or key
        entry = {
            "label": EFFECT_LABELS.get(label_key, label_key),
            "shown": figure(row.get("value_shown")),
            "effect": row.get("effect"),
            "negative": str(row.get("effect") or "").startswith("-"),
        }
        (score_rows if key.startswith("score.") else value_rows).append(entry)
    dimensions = [
        {"label": DIMENSION_LABELS.get(name, name), "score": score}
        for name, score in ((valuation or {}).get("dimension_scores") or {}).items()
    ]
    return {"value_rows": value_rows, "score_rows": score_rows, "dimensions": dimensions}


def price_effect(factor) -> str:
    """A rider's factor as what it does to the premium: 1.15 → "+15 %", 0.9 → "−10 %"."""
    try:
        change = (Decimal(str(factor)) - 1) * 100
    except (InvalidOperation, ValueError):
        return ""
    if change == 0:
        return gettext("no change to the premium")
    sign = "+" if change > 0 else "−"
    return gettext("%(sign)s%(percent)s %% on the premium") % {
        "sign": sign,
        "percent": number(abs(change)),
    }


# --- Helpers --------------------------------------------------------------------------------


def _as_bool_text(value) -> str:
    """A stored or raw yes/no answer as the radio value ("true"/"false"), or "" if unknown."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value or "").strip().lower()
    if text in TRUE_WORDS:
        return "true"
    if text in FALSE_WORDS and text:
        return "false"
    return ""


def _option_label(question: dict, code) -> str:
    for option in question.get("options") or ():
        if str(option.get("code")) == str(code):
            return pick_language(option.get("label"))
    return str(code)


def _unit(question: dict) -> str:
    return pick_language(question.get("unit")) if question.get("unit") else ""


def display_answer(question: dict, value) -> str:
    """An answer as the applicant reads it: option labels, yes/no, figures with their unit."""
    if value in (None, "", []):
        return ""
    kind = question.get("kind", "text")
    if kind == "choice":
        return _option_label(question, value)
    if kind == "multi":
        values = value if isinstance(value, list | tuple) else [value]
        return "；".join(_option_label(question, v) for v in values)
    if kind == "boolean":
        text = _as_bool_text(value)
        if text == "true":
            return gettext("Yes")
        if text == "false":
            return gettext("No")
        return str(value)
    if kind in ("number", "integer"):
        return f"{figure(value)} {_unit(question)}".strip()
    return str(value)


def answer_rows(questions, answers: dict) -> list[dict]:
    """The shown questions with their answers, grouped in the questionnaire's order."""
    answers = answers or {}
    groups: list[dict] = []
    for question in questions or ():
        if not is_shown(question, answers):
            continue
        group = pick_language(question.get("group")) if question.get("group") else ""
        if not groups or groups[-1]["title"] != group:
            groups.append({"title": group, "rows": []})
        groups[-1]["rows"].append(
            {
                "code": question["code"],
                "label": pick_language(question.get("label")) or question["code"],
                "value": display_answer(question, answers.get(question["code"])),
            }
        )
    return groups


def _limit_value(section, stored) -> str:
    """The option of a section that equals a stored limit ("50000.00" ↔ "50000")."""
    if stored in (None, ""):
        return ""
    try:
        wanted = Decimal(str(stored))
    except (InvalidOperation, ValueError):
        return ""
    for option in section.limit_options or ():
        try:
            if Decimal(str(option)) == wanted:
                return str(option)
        except (InvalidOperation, ValueError):
            continue
    return ""


class ServiceErrorsMixin:
    """Attach the errors a service reported to the fields; the rest become form-wide errors."""

    def apply_service_errors(self, errors: dict) -> None:
        if not hasattr(self, "cleaned_data"):
            self.cleaned_data = {}
        for key, error in (errors or {}).items():
            message = answer_error_message(error)
            field = self.fields.get(key)
            if field is not None and not isinstance(
                field.widget, forms.RadioSelect | forms.CheckboxSelectMultiple
            ):
                css = field.widget.attrs.get("class", "")
                field.widget.attrs["class"] = f"{css} is-invalid".strip()
                field.widget.attrs["aria-invalid"] = "true"
            self.add_error(key if field is not None else None, message)


# --- The cover step --------------------------------------------------------------------------


class CoverForm(ServiceErrorsMixin, forms.Form):
    """Which rights, which limit per cover section, deductible, riders and start date."""

    def __init__(self, *args, application, assets, **kwargs):
        super().__init__(*args, **kwargs)
        version = application.clause_version
        self.application = application
        self.assets = list(assets)
        self.sections = list(version.rating_sections.all())
        self.deductible_table = next(
            (t for t in version.coefficient_tables.all() if t.input_key == DEDUCTIBLE_INPUT), None
        )
        self.rider_factors = list(version.rider_factors.all())

        self.fields["assets"] = forms.MultipleChoiceField(
            label=_("Rights to insure"),
            required=False,
            choices=[
                (str(asset.pk), " · ".join(p for p in (asset.number, asset.title) if p))
                for asset in self.assets
            ],
            widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        )
        for section in self.sections:
            self.fields[f"limit_{section.code}"] = forms.ChoiceField(
                label=section.name,
                required=False,
                choices=[
                    ("", _("Not included")),
                    *[
                        (str(option), gettext("CNY %(amount)s") % {"amount": amount(option)})
                        for option in section.limit_options or ()
                    ],
                ],
                widget=forms.Select(attrs={"class": "form-select"}),
            )
        if self.deductible_table is not None:
            self.fields["deductible"] = forms.ChoiceField(
                label=self.deductible_table.name,
                required=False,
                choices=[
                    (option.code, f"{option.label} (×{number(option.factor)})")
                    for option in self.deductible_table.options.all()
                ],
                widget=forms.Select(attrs={"class": "form-select"}),
            )
        if self.rider_factors:
            self.fields["riders"] = forms.MultipleChoiceField(
                label=_("Riders"),
                required=False,
                choices=[
                    (f.rider.code, f"{f.rider.name} ({price_effect(f.factor)})")
                    for f in self.rider_factors
                ],
                widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
            )
        self.fields["wished_start"] = forms.DateField(
            label=_("When should cover start?"),
            required=False,
            # An <input type="date"> only takes ISO dates, whatever the language.
            widget=forms.DateInput(
                attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d"
            ),
            input_formats=["%Y-%m-%d"],
            help_text=_("Cover starts once the premium is paid, at the earliest on this day."),
        )
        if not self.is_bound:
            self.initial.update(self._stored())

    def _stored(self) -> dict:
        application = self.application
        initial = {
            "assets": [str(item.asset_id) for item in application.insured_assets.all()],
            "wished_start": application.wished_start,
            "riders": list(application.rider_codes or []),
        }
        for section in self.sections:
            initial[f"limit_{section.code}"] = _limit_value(
                section, (application.limits or {}).get(section.code)
            )
        if self.deductible_table is not None:
            options = list(self.deductible_table.options.all())
            default = next((o.code for o in options if o.is_default), "")
            initial["deductible"] = application.deductible or default
        return initial

    def limit_fields(self):
        return [(section, self[f"limit_{section.code}"]) for section in self.sections]

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        limits = {}
        for section in self.sections:
            value = data.get(f"limit_{section.code}")
            if value:
                limits[section.code] = value
        return {
            "asset_ids": [int(pk) for pk in data.get("assets") or []],
            "limits": limits,
            "deductible": data.get("deductible") or "",
            "rider_codes": list(data.get("riders") or []),
            "wished_start": data.get("wished_start"),
        }


# --- Questionnaires ---------------------------------------------------------------------------

RADIO_LIMIT = 6

# Django's own widget templates in their Jinja2 versions: the same markup, rendered several
# times faster than through the template language. A risk questionnaire draws ~25 widgets and
# a hundred radio buttons, which were a quarter of the step page's time.
QUESTION_RENDERER = Jinja2()


class QuestionnaireForm(ServiceErrorsMixin, forms.Form):
    """A form built from a questionnaire's questions. Nothing is checked here beyond collecting
    the raw answers: ``clean_answers`` in the service decides, and its errors come back through
    ``apply_service_errors``. A yes/no question starts with neither answer chosen."""

    default_renderer = QUESTION_RENDERER

    def __init__(self, questions, *args, answers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(questions or ())
        self.by_code = {q["code"]: q for q in self.questions}
        for question in self.questions:
            self.fields[question["code"]] = self._field(question)
        if not self.is_bound:
            self.initial.update(self._initial(answers or {}))

    @staticmethod
    def _field(question: dict) -> forms.Field:
        kind = question.get("kind", "text")
        common = {
            "label": pick_language(question.get("label")) or question["code"],
            "help_text": pick_language(question.get("help")) if question.get("help") else "",
            "required": False,
        }
        options = [
            (str(o["code"]), pick_language(o.get("label"))) for o in question.get("options") or ()
        ]
        if kind == "choice":
            if len(options) > RADIO_LIMIT:
                return forms.ChoiceField(
                    choices=[("", "—")] + options,
                    widget=forms.Select(attrs={"class": "form-select"}),
                    **common,
                )
            return forms.ChoiceField(
                choices=options,
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
                **common,
            )
        if kind == "multi":
            return forms.MultipleChoiceField(
                choices=options,
                widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
                **common,
            )
        if kind == "boolean":
            return forms.ChoiceField(
                choices=[("true", _("Yes")), ("false", _("No"))],
                widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
                **common,
            )
        if kind in ("number", "integer"):
            attrs = {
                "class": "form-control",
                "inputmode": "numeric" if kind == "integer" else "decimal",
                "autocomplete": "off",
            }
            return forms.CharField(widget=forms.TextInput(attrs=attrs), strip=True, **common)
        if kind == "date":
            return forms.CharField(
                widget=forms.DateInput(
                    attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d"
                ),
                **common,
            )
        return forms.CharField(
            widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}), **common
        )

    def full_clean(self):
        # The service checks the answers (clean_answers); the form only carries them.
        self._errors = ErrorDict()
        self.cleaned_data = {}

    def _initial(self, answers: dict) -> dict:
        initial = {}
        for code, question in self.by_code.items():
            if code not in answers:
                continue
            value = answers[code]
            kind = question.get("kind", "text")
            if kind == "boolean":
                initial[code] = _as_bool_text(value)
            elif kind == "multi":
                values = value if isinstance(value, list | tuple) else [value]
                initial[code] = [str(v) for v in values if v not in (None, "")]
            elif value is None:
                continue
            else:
                initial[code] = str(value)
        return initial

    def raw_answers(self) -> dict:
        """What was typed, as the service takes it: strings, and lists for multi questions.
        Empty answers are left out."""
        answers = {}
        for code, question in self.by_code.items():
            if question.get("kind") == "multi":
                values = [v for v in self.data.getlist(code) if v.strip()]
                if values:
                    answers[code] = values
            else:
                value = (self.data.get(code) or "").strip()
                if value:
                    answers[code] = value
        return answers

    def current_answers(self) -> dict:
        return self.raw_answers() if self.is_bound else dict(self.initial)

    def groups(self) -> list[dict]:
        """Fields grouped by the questionnaire's ``group``, in order, with show_if data."""
        answers = self.current_answers()
        groups: list[dict] = []
        for question in self.questions:
            title = pick_language(question.get("group")) if question.get("group") else ""
            if not groups or groups[-1]["title"] != title:
                groups.append({"title": title, "fields": []})
            condition = question.get("show_if") or {}
            equals = condition.get("equals")
            groups[-1]["fields"].append(
                {
                    "field": self[question["code"]],
                    "question": question,
                    "kind": question.get("kind", "text"),
                    "unit": _unit(question),
                    "show_if_question": condition.get("question", ""),
                    "show_if_equals": (
                        _as_bool_text(equals) if isinstance(equals, bool) else str(equals or "")
                    ),
                    "show_if_boolean": isinstance(equals, bool),
                    "hidden": not is_shown(question, answers),
                }
            )
        return groups


# --- The exclusion notice ---------------------------------------------------------------------


class ExclusionNoticeForm(forms.Form):
    """The notice's confirmation: one unticked box per exclusion with the time it was ticked
    (filled in by the page's script), the confirmation of the notice as a whole, the number of
    instalments when the product allows more than one, the signed token and the text's hash.

    Nothing is ticked in advance and nothing is checked here: ``services.acknowledgement_record``
    decides, and its refusal is shown as a message with the boxes kept as they were."""

    token = forms.CharField(widget=forms.HiddenInput, required=False)
    text_sha256 = forms.CharField(widget=forms.HiddenInput, required=False)
    confirm = forms.BooleanField(
        required=False,
        label=_(
            "I confirm that the insurer has shown me every exclusion above in a prominent way and "
            "explained it, that I have read and understood them and their legal effect, and I "
            "accept the quote on these terms."
        ),
        widget=forms.CheckboxInput(attrs={"class": "form-check-input", "id": "notice-confirm"}),
    )

    def __init__(self, *args, notice, max_instalments: int = 1, plans=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.notice = notice
        self.items = list(notice.items)
        for item in self.items:
            self.fields[self.tick_name(item.key)] = forms.BooleanField(
                required=False,
                label=_("I have read and understood this exclusion"),
                widget=forms.CheckboxInput(
                    attrs={
                        "class": "form-check-input exclusion-tick",
                        "data-key": item.key,
                        "id": f"tick-{item.key}",
                        "aria-describedby": f"exclusion-title-{item.key}",
                    }
                ),
            )
            self.fields[self.time_name(item.key)] = forms.CharField(
                required=False,
                widget=forms.HiddenInput(
                    attrs={"class": "exclusion-tick-time", "data-key": item.key}
                ),
            )
        if max_instalments > 1:
            self.fields["instalments"] = forms.TypedChoiceField(
                label=_("How do you want to pay the premium?"),
                coerce=int,
                choices=[(n, (plans or {}).get(n, str(n))) for n in range(1, max_instalments + 1)],
                initial=1,
                widget=forms.Select(attrs={"class": "form-select", "id": "notice-instalments"}),
            )

    @staticmethod
    def tick_name(key: str) -> str:
        return f"tick-{key}"

    @staticmethod
    def time_name(key: str) -> str:
        return f"ticked_at-{key}"

    def rows(self) -> list[dict]:
        """Each exclusion with its box and hidden tick time, for the template."""
        return [
            {
                "item": item,
                "tick": self[self.tick_name(item.key)],
                "time": self[self.time_name(item.key)],
            }
            for item in self.items
        ]

    def _checked(self, name: str) -> bool:
        return self.data.get(name) in ("on", "true", "1", "yes")

    def ticks(self) -> dict:
        """{key: ISO time of the tick, or True when ticked without a time, or None}; a time
        without its box ticked (the box was unticked again) counts as not ticked."""
        ticks = {}
        for item in self.items:
            if self._checked(self.tick_name(item.key)):
                ticks[item.key] = (self.data.get(self.time_name(item.key)) or "").strip() or True
            else:
                ticks[item.key] = None
        return ticks

    def confirmed(self) -> bool:
        return self._checked("confirm")

    def instalments(self) -> int:
        if "instalments" not in self.fields:
            return 1
        try:
            return int(self.data.get("instalments") or 1)
        except (TypeError, ValueError):
            return 0  # refused by the service with its message


# --- Public policy verification ---------------------------------------------------------------


class PolicyVerifyForm(forms.Form):
    number = forms.CharField(
        label=_("Policy number"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"class": "form-control font-monospace", "autocomplete": "off", "id": "number"}
        ),
    )
    code = forms.CharField(
        label=_("Verification code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"class": "form-control font-monospace", "autocomplete": "off", "id": "code"}
        ),
        help_text=_("Printed on the policy next to its number."),
    )
