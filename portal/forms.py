import re

from django import forms
from django.utils.translation import gettext_lazy as _

from portal import ipnumbers
from portal.choices import AssetKind, MembershipRole, PatentType, Qualification
from portal.models import Firm, IPAsset
from portal.services import number_error_message


class DateInput(forms.DateInput):
    input_type = "date"


class FirmForm(forms.ModelForm):
    # Longer than the 18 stored characters: people paste the code with spaces or hyphens, which
    # clean_uscc() removes before the model checks the length and the check character.
    uscc = forms.CharField(
        label=Firm._meta.get_field("uscc").verbose_name,
        max_length=30,
        help_text=_("The 18-character code on the business licence."),
    )
    qualifications = forms.MultipleChoiceField(
        label=_("Qualifications"),
        choices=Qualification.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Firm
        fields = [
            "name_zh",
            "name_en",
            "uscc",
            "address",
            "region_code",
            "industry",
            "size",
            "qualifications",
        ]
        help_texts = {
            "region_code": _("Six digits, e.g. 320200 (Wuxi) or 110108 (Haidian, Beijing)."),
        }

    def clean_uscc(self):
        return re.sub(r"[\s-]", "", self.cleaned_data["uscc"]).upper()


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(
        label=_("Role"), choices=MembershipRole.choices, initial=MembershipRole.MEMBER
    )


class CommaListField(forms.CharField):
    """A list typed as comma- or space-separated values."""

    def to_python(self, value):
        value = super().to_python(value)
        return [item for item in re.split(r"[\s,，、;；]+", value or "") if item]

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        return value


ASSET_FIELDS = {
    AssetKind.PATENT: [
        "number",
        "patent_type",
        "title",
        "filing_date",
        "grant_date",
        "claim_count",
        "legal_status",
        "family_countries",
        "licences_granted",
    ],
    AssetKind.TRADEMARK: [
        "number",
        "title",
        "nice_classes",
        "grant_date",
        "expiry_date",
        "legal_status",
        "licences_granted",
    ],
    AssetKind.COPYRIGHT: ["number", "title", "work_kind", "grant_date", "legal_status"],
    AssetKind.GEOGRAPHICAL_INDICATION: [
        "number",
        "title",
        "grant_date",
        "legal_status",
        "description",
    ],
    AssetKind.PLANT_VARIETY: ["number", "title", "grant_date", "expiry_date", "legal_status"],
    AssetKind.IC_LAYOUT: [
        "number",
        "title",
        "filing_date",
        "grant_date",
        "expiry_date",
        "legal_status",
    ],
    AssetKind.TRADE_SECRET: ["title", "description"],
}

KIND_LABELS = {
    AssetKind.PATENT: {
        "number": _("Application number"),
        "title": _("Title of the invention"),
        "grant_date": _("Grant date"),
    },
    AssetKind.TRADEMARK: {
        "number": _("Registration number"),
        "title": _("Mark"),
        "grant_date": _("Registration date"),
        "expiry_date": _("Expiry date (derived from the registration date when left empty)"),
    },
    AssetKind.COPYRIGHT: {
        "number": _("Registration number"),
        "title": _("Title of the work"),
        "grant_date": _("Registration date"),
    },
    AssetKind.GEOGRAPHICAL_INDICATION: {
        "number": _("Registration or approval number"),
        "title": _("Product name"),
        "grant_date": _("Registration date"),
    },
    AssetKind.PLANT_VARIETY: {
        "number": _("Variety right number"),
        "title": _("Variety name"),
        "grant_date": _("Grant date"),
    },
    AssetKind.IC_LAYOUT: {
        "number": _("Registration number"),
        "title": _("Name of the layout design"),
        "filing_date": _("Filing date"),
        "grant_date": _("Registration date"),
    },
    AssetKind.TRADE_SECRET: {
        "title": _("Name of the secret"),
        "description": _("What it is and how it is kept confidential (no secret details)"),
    },
}

_NUMBER_NORMALISERS = {
    AssetKind.TRADEMARK: ipnumbers.normalise_trademark_number,
    AssetKind.COPYRIGHT: ipnumbers.normalise_copyright_number,
    AssetKind.PLANT_VARIETY: ipnumbers.normalise_plant_variety_number,
    AssetKind.IC_LAYOUT: ipnumbers.normalise_ic_layout_number,
}

_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


class IPAssetForm(forms.ModelForm):
    family_countries = CommaListField(
        label=_("Countries of the family"),
        required=False,
        help_text=_("Two-letter codes separated by commas, e.g. CN, US, EP, JP."),
    )
    nice_classes = CommaListField(
        label=_("Nice classes"),
        required=False,
        help_text=_("Class numbers 1 to 45 separated by commas, e.g. 9, 42."),
    )

    class Meta:
        model = IPAsset
        fields = sorted({name for names in ASSET_FIELDS.values() for name in names})
        widgets = {
            "filing_date": DateInput,
            "grant_date": DateInput,
            "expiry_date": DateInput,
            "description": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        wanted = ASSET_FIELDS[kind]
        for name in list(self.fields):
            if name not in wanted:
                del self.fields[name]
        self.order_fields(wanted)
        for name, label in KIND_LABELS.get(kind, {}).items():
            if name in self.fields:
                self.fields[name].label = label
        if "number" in self.fields:
            self.fields["number"].required = kind != AssetKind.GEOGRAPHICAL_INDICATION
        if kind == AssetKind.PATENT:
            self.fields["number"].help_text = _(
                "For example ZL201510012345.3 — the check character after the dot is verified."
            )
            self.fields["patent_type"].required = False
            self.fields["patent_type"].help_text = _("Read from the number when left empty.")
            self.fields["filing_date"].required = True
        if kind == AssetKind.TRADE_SECRET:
            self.fields["description"].required = True

    def clean_number(self):
        raw = self.cleaned_data.get("number", "")
        if not raw:
            return raw
        try:
            if self.kind == AssetKind.PATENT:
                return str(ipnumbers.parse_cn_patent_number(raw))
            normalise = _NUMBER_NORMALISERS.get(self.kind)
            return normalise(raw) if normalise else raw.strip()
        except ipnumbers.InvalidNumber as error:
            raise forms.ValidationError(number_error_message(error), code=error.code) from None

    def clean_family_countries(self):
        codes = [code.upper() for code in self.cleaned_data.get("family_countries", [])]
        bad = [code for code in codes if not _COUNTRY_RE.match(code)]
        if bad:
            raise forms.ValidationError(
                _("Not a two-letter country code: %(codes)s") % {"codes": ", ".join(bad)}
            )
        return list(dict.fromkeys(codes))

    def clean_nice_classes(self):
        values = []
        for item in self.cleaned_data.get("nice_classes", []):
            # str.isdigit() also accepts digits int() cannot read (“²”); full-width digits from
            # Chinese input methods are folded to ASCII first, other scripts' digits refused.
            digits = item.translate(_FULL_WIDTH_DIGITS)
            if not re.fullmatch(r"[0-9]{1,2}", digits) or not 1 <= int(digits) <= 45:
                raise forms.ValidationError(
                    _("Nice classes are numbers from 1 to 45; “%(item)s” is not.") % {"item": item}
                )
            values.append(int(digits))
        return sorted(set(values))

    def clean(self):
        cleaned = super().clean()
        number = cleaned.get("number")
        if self.kind == AssetKind.PATENT and number and not cleaned.get("patent_type"):
            cleaned["patent_type"] = ipnumbers.parse_cn_patent_number(number).patent_type
        if self.kind == AssetKind.PATENT and number and cleaned.get("patent_type"):
            from_number = ipnumbers.parse_cn_patent_number(number).patent_type
            if from_number != cleaned["patent_type"]:
                self.add_error(
                    "patent_type",
                    _("According to its number this patent is of type: %(type)s.")
                    % {"type": PatentType(from_number).label},
                )
        filing, grant = cleaned.get("filing_date"), cleaned.get("grant_date")
        if filing and grant and grant < filing:
            self.add_error("grant_date", _("The grant date cannot be before the filing date."))
        return cleaned
