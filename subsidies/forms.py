"""Forms of the applicant's subsidy pages. They collect and re-display what was typed; the
services decide what is valid, and the errors they report are attached to the fields here."""

from django import forms
from django.utils.translation import gettext, gettext_lazy

from underwriting.models import pick_language

# What the file picker offers; the server decides from the bytes (portal.uploads).
UPLOAD_ACCEPT = ".pdf,.jpg,.jpeg,.png,.docx,.xlsx"
OTHER_DOCUMENT = "other"


def document_label(item: dict) -> str:
    """A required document ({code, zh, en}) in the active language."""
    return pick_language({"zh": item.get("zh"), "en": item.get("en")}) or item.get("code", "")


class ApplyForm(forms.Form):
    high_value = forms.BooleanField(
        label=gettext_lazy("The insured patents are high-value patents"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


class SubsidyDocumentForm(forms.Form):
    """One file for one of the programme's required documents (or "other"). The field offers the
    usual types; the service decides from the bytes and refuses anything else."""

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

    def __init__(self, *args, required_documents, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", gettext("Choose…"))]
        for item in required_documents:
            choices.append(
                (
                    item["code"],
                    gettext("%(label)s (required)") % {"label": document_label(item)},
                )
            )
        choices.append((OTHER_DOCUMENT, gettext("Other document")))
        self.fields["code"].choices = choices

    def add_service_error(self, error) -> None:
        code = getattr(error, "code", "")
        if code in self.CODE_ERRORS:
            self.add_error("code", error.message)
        elif code in ("closed", "forbidden"):
            self.add_error(None, error.message)
        else:
            self.add_error("file", error.message)


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=gettext_lazy("Your answer"),
        max_length=5000,
        help_text=gettext_lazy(
            "If the officer asked for a document, upload it above before you send your answer."
        ),
        widget=forms.Textarea(attrs={"rows": 4, "class": "form-control", "maxlength": 5000}),
        error_messages={"required": gettext_lazy("Write your answer.")},
    )


class WithdrawForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I want to withdraw this request. The authority will not consider it any further."
        ),
        error_messages={
            "required": gettext_lazy(
                "Tick the box to confirm that you want to withdraw the request."
            )
        },
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
