from django import forms
from django.utils.translation import gettext_lazy as _

from portal.choices import AssetKind
from underwriting import catalogue_cache, selectors
from underwriting.choices import FunctionClass, LiabilityClass
from underwriting.models import ClauseVersion, Insurer
from underwriting.templatetags.catalogue import amount, number

MAX_ITEMS = 10000


def _insurer_choices():
    key = catalogue_cache.insurers_key()
    rows = catalogue_cache.get(key)
    if rows is None:
        rows = [
            (insurer.code, insurer.name_zh, insurer.name_en)
            for insurer in selectors.catalogue_insurers()
        ]
        catalogue_cache.put(key, rows)
    # Named in the active language the way the model names itself.
    return [("", _("All insurers"))] + [
        (code, Insurer(code=code, name_zh=name_zh, name_en=name_en).name)
        for code, name_zh, name_en in rows
    ]


class ProductFilterForm(forms.Form):
    """The catalogue's filters. A value that is not on offer is ignored, never an error page."""

    ip_type = forms.ChoiceField(
        label=_("IP type"), required=False, choices=[("", _("All IP types")), *AssetKind.choices]
    )
    liability_class = forms.ChoiceField(
        label=_("Liability class"),
        required=False,
        choices=[("", _("All liability classes")), *LiabilityClass.choices],
    )
    function_class = forms.ChoiceField(
        label=_("Function class"),
        required=False,
        choices=[("", _("All function classes")), *FunctionClass.choices],
    )
    insurer = forms.ChoiceField(label=_("Insurer"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["insurer"].choices = _insurer_choices()  # one query, whatever the size
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select"

    def filters(self) -> dict:
        if not self.is_bound:
            return {}
        self.is_valid()
        return {name: self.cleaned_data.get(name) or None for name in self.fields}


class PremiumForm(forms.Form):
    """The indicative premium calculator, built from a clause version's rating tables.

    Fields: ``limit_<section>`` per rating section, ``item_count`` when a section is priced per
    insured right, ``coef_<table>`` per coefficient table, ``riders`` for priced riders."""

    def __init__(self, version: ClauseVersion, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.version = version
        self.sections = list(version.rating_sections.all())
        self.tables = list(version.coefficient_tables.all())
        self.rider_factors = list(version.rider_factors.all())

        for section in self.sections:
            name = f"limit_{section.code}"
            if section.limit_options:
                self.fields[name] = forms.ChoiceField(
                    label=section.name,
                    required=False,
                    choices=[
                        *[(str(option), amount(option)) for option in section.limit_options],
                        ("", _("Not included")),
                    ],
                    initial=str(section.limit_options[0]),
                    widget=forms.Select(attrs={"class": "form-select"}),
                )
            else:
                self.fields[name] = forms.DecimalField(
                    label=section.name,
                    required=False,
                    min_value=0,
                    max_digits=16,
                    decimal_places=2,
                    widget=forms.NumberInput(attrs={"class": "form-control", "min": "0"}),
                )
        if any(section.per_item for section in self.sections):
            self.fields["item_count"] = forms.IntegerField(
                label=_("Number of insured rights"),
                min_value=1,
                max_value=MAX_ITEMS,
                initial=1,
                widget=forms.NumberInput(
                    attrs={"class": "form-control", "min": "1", "max": str(MAX_ITEMS)}
                ),
            )
        for table in self.tables:
            options = list(table.options.all())
            default = next((o.code for o in options if o.is_default), None)
            choices = [(o.code, f"{o.label} (×{number(o.factor)})") for o in options]
            if default is None:
                choices.insert(0, ("", _("Not specified (×1)")))
            self.fields[f"coef_{table.code}"] = forms.ChoiceField(
                label=table.name,
                required=False,
                choices=choices,
                initial=default or "",
                widget=forms.Select(attrs={"class": "form-select"}),
            )
        if self.rider_factors:
            self.fields["riders"] = forms.MultipleChoiceField(
                label=_("Riders"),
                required=False,
                choices=[
                    (f.rider.code, f"{f.rider.name} (×{number(f.factor)})")
                    for f in self.rider_factors
                ],
                widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
            )

    # Groups for the template, in the order the rating tables define.
    def limit_fields(self):
        return [(section, self[f"limit_{section.code}"]) for section in self.sections]

    def coefficient_fields(self):
        return [(table, self[f"coef_{table.code}"]) for table in self.tables]

    def quote_arguments(self) -> dict:
        """Keyword arguments of ``services.premium_quote`` from the cleaned data."""
        data = self.cleaned_data
        limits = {}
        for section in self.sections:
            value = data.get(f"limit_{section.code}")
            if value not in (None, ""):
                limits[section.code] = str(value)
        choices = {
            table.code: data[f"coef_{table.code}"]
            for table in self.tables
            if data.get(f"coef_{table.code}")
        }
        return {
            "limits": limits,
            "item_count": data.get("item_count") or 1,
            "choices": choices,
            "rider_codes": list(data.get("riders") or ()),
        }
