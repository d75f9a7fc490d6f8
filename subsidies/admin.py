"""Programmes and budgets are set up by the portal's administrators on the authorities' behalf;
requests are decided by officers in their own workspace (/officer/) and are read-only here."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from portal.admin_base import HistoryAdmin, ReadOnlyMixin
from subsidies.models import Budget, DisbursementBatch, Programme, SubsidyRequest


class BudgetForm(forms.ModelForm):
    class Meta:
        model = Budget
        fields = ["year", "amount"]

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        spent = self.instance.committed + self.instance.paid if self.instance.pk else 0
        if amount is not None and amount < spent:
            raise forms.ValidationError(
                _("The budget cannot be less than what is already reserved or paid (%(spent)s)."),
                params={"spent": spent},
            )
        return amount


class BudgetInline(admin.TabularInline):
    model = Budget
    form = BudgetForm
    extra = 0
    fields = ["year", "amount", "committed", "paid"]
    # Reservations and payments move only through the services, under row locks.
    readonly_fields = ["committed", "paid"]


@admin.register(Programme)
class ProgrammeAdmin(HistoryAdmin):
    list_display = [
        "code",
        "name_zh",
        "authority",
        "rate_first",
        "window_start",
        "window_end",
        "status",
    ]
    list_filter = ["status", "authority"]
    search_fields = ["code", "name_zh", "name_en"]
    list_select_related = ["authority"]
    inlines = [BudgetInline]


@admin.register(SubsidyRequest)
class SubsidyRequestAdmin(ReadOnlyMixin, HistoryAdmin):
    list_display = ["number", "firm", "programme", "status", "expected_amount", "approved_amount"]
    list_filter = ["status", "programme__authority"]
    search_fields = ["number", "firm__name_zh", "firm__uscc"]
    list_select_related = ["firm", "programme"]


@admin.register(DisbursementBatch)
class DisbursementBatchAdmin(ReadOnlyMixin, HistoryAdmin):
    list_display = ["number", "authority", "status", "payment_reference", "paid_on"]
    list_select_related = ["authority"]
