"""Forms of the applicant's claim pages. They collect and re-display what was typed; the services
decide what is valid, and the errors they report are attached to the fields here."""

from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from claims.services import ClaimInvalid
from portal.choices import insured_right_label as right_label
from underwriting.models import pick_language

# What the file picker offers; the server decides from the bytes (portal.uploads).
UPLOAD_ACCEPT = ".pdf,.jpg,.jpeg,.png,.docx,.xlsx"
MAX_AMOUNT = Decimal("999999999999.99")


def item_label(item: dict) -> str:
    """A checklist or requested item ({code, zh, en}) in the active language."""
    return pick_language({"zh": item.get("zh"), "en": item.get("en")}) or item.get("code", "")


class ClaimNotifyForm(forms.Form):
    """The claim notification: the causes and rights offered are the policy's own."""

    incident_date = forms.DateField(
        label=gettext_lazy("Date of the incident"),
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d"),
    )
    learned_on = forms.DateField(
        label=gettext_lazy("Date you learned of it (optional)"),
        required=False,
        help_text=gettext_lazy("If you found out about the incident later than it happened."),
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d"),
    )
    cause_number = forms.TypedChoiceField(
        label=gettext_lazy("Covered cause"),
        coerce=int,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={"required": gettext_lazy("Choose one of the causes the policy covers.")},
    )
    right_ids = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Insured rights concerned"),
        coerce=int,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        error_messages={"required": gettext_lazy("Choose the insured rights concerned.")},
    )
    description = forms.CharField(
        label=gettext_lazy("What happened"),
        max_length=10000,
        help_text=gettext_lazy(
            "Who infringed or challenged which right, when and how you found out, and what you "
            "have done since."
        ),
        widget=forms.Textarea(attrs={"rows": 6, "class": "form-control", "maxlength": 10000}),
    )
    amount_claimed = forms.DecimalField(
        label=gettext_lazy("Amount claimed (CNY)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        widget=forms.NumberInput(
            attrs={"class": "form-control", "step": "0.01", "min": "0.01", "inputmode": "decimal"}
        ),
    )

    def __init__(self, *args, policy, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy
        causes = policy.clause_version.covered_causes or []
        self.cause_texts = {}
        choices = []
        for number, cause in enumerate(causes, start=1):
            choices.append((number, f"{number}. {pick_language(cause.get('title'))}"))
            self.cause_texts[str(number)] = pick_language(cause.get("text"))
        self.fields["cause_number"].choices = choices
        # A hint for the date picker only; the service decides (the period and today).
        latest = min(policy.end_date, timezone.localdate())
        self.fields["incident_date"].widget.attrs.update(
            {"min": policy.start_date.isoformat(), "max": latest.isoformat()}
        )
        self.fields["learned_on"].widget.attrs["max"] = timezone.localdate().isoformat()
        insured = (policy.terms or {}).get("insured") or []
        self.fields["right_ids"].choices = [
            (int(item["id"]), right_label(item)) for item in insured
        ]
        self.fields["right_ids"].required = bool(insured)
        if len(insured) == 1 and not self.is_bound:
            self.fields["right_ids"].initial = [int(insured[0]["id"])]

    def cause_rows(self):
        """(radio, the cause's wording) for the template."""
        return [
            (radio, self.cause_texts.get(str(radio.data["value"]), ""))
            for radio in self["cause_number"]
        ]

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "incident_date": data["incident_date"],
            "learned_on": data.get("learned_on"),
            "cause_number": data["cause_number"],
            "right_ids": data.get("right_ids") or [],
            "description": data["description"],
            "amount_claimed": data["amount_claimed"],
        }

    def add_service_errors(self, error) -> None:
        """Attach a ``ClaimInvalid``'s messages to their fields (unknown keys: the whole form)."""
        if isinstance(error, ClaimInvalid):
            for name, message in error.errors.items():
                self.add_error(name if name in self.fields else None, message)
        else:
            self.add_error(None, error.message)


class ClaimDocumentForm(forms.Form):
    """One file for one item of the checklist. The field offers the usual types; the service
    decides from the bytes and refuses anything else."""

    code = forms.ChoiceField(
        label=gettext_lazy("Which document is this?"),
        widget=forms.Select(attrs={"class": "form-select"}),
        error_messages={"required": gettext_lazy("Choose which document this is.")},
    )
    file = forms.FileField(
        label=gettext_lazy("File"),
        allow_empty_file=True,  # the service says "empty" itself, like every other refusal
        help_text=gettext_lazy(
            "PDF, JPEG, PNG, Word (.docx) or Excel (.xlsx), one file at a time."
        ),
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": UPLOAD_ACCEPT}),
        error_messages={"required": gettext_lazy("Choose a file to upload.")},
    )

    # Codes of the upload service's refusals that concern the chosen item, not the file.
    CODE_ERRORS = {"code"}

    def __init__(self, *args, checklist, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", gettext("Choose…"))]
        for item in checklist:
            label = item_label(item)
            if item.get("required"):
                label = gettext("%(label)s (required)") % {"label": label}
            choices.append((item["code"], label))
        self.fields["code"].choices = choices

    def add_service_error(self, error) -> None:
        code = getattr(error, "code", "")
        if code in self.CODE_ERRORS:
            self.add_error("code", error.message)
        elif code in ("closed", "forbidden"):
            self.add_error(None, error.message)
        else:
            self.add_error("file", error.message)


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control", "maxlength": 1000}),
    )
    confirm = forms.BooleanField(
        label=gettext_lazy("I want to withdraw this claim. The insurer will not assess it."),
        error_messages={
            "required": gettext_lazy("Tick the box to confirm that you want to withdraw the claim.")
        },
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


class ReinstatementForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("Amount to restore (CNY)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        widget=forms.NumberInput(
            attrs={"class": "form-control", "step": "0.01", "min": "0.01", "inputmode": "decimal"}
        ),
    )

    def __init__(self, *args, gap: Decimal, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].widget.attrs["max"] = f"{gap:.2f}"
        self.fields["amount"].validators.append(_at_most(gap))
        if not self.is_bound:
            self.fields["amount"].initial = gap


def _at_most(gap: Decimal):
    def check(value):
        if value is not None and value > gap:
            raise forms.ValidationError(
                gettext("At most CNY %(gap)s can be restored on this policy.")
                % {"gap": f"{gap:,.2f}"},
                code="max_value",
            )

    return check
