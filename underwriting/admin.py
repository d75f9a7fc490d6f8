import hashlib
import html
import json
import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_value, unquote
from django.core.exceptions import PermissionDenied as Forbidden
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Exists, F, Func, IntegerField, OuterRef, Subquery
from django.forms import Media, formset_factory
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from portal.admin_base import (
    HistoryAdmin,
    KeptMedia,
    PrerenderedChoicesMixin,
    RowLinkChangeList,
    nav_sidebar_html,
)
from portal.choices import AssetKind
from portal.errors import DomainError
from portal.models import IPAsset, User, bilingual_name
from portal.roles import SENIOR_UNDERWRITER, UNDERWRITER
from underwriting import catalogue_cache, refunds, rules, services
from underwriting.choices import (
    ApplicationStatus,
    CancellationParty,
    ClauseStatus,
    DocumentStatus,
    InstalmentStatus,
    PaymentMethod,
    PolicyStatus,
    QuestionnaireKind,
    QuoteStatus,
    RuleOutcome,
)
from underwriting.models import (
    Acknowledgement,
    Application,
    Cancellation,
    ClauseVersion,
    CoefficientOption,
    CoefficientTable,
    Instalment,
    Insurer,
    Payment,
    Policy,
    PolicyDocument,
    Product,
    ProductInsurer,
    Questionnaire,
    Quote,
    RatingSection,
    Rider,
    RiderFactor,
    UnderwriterAuthority,
    UnderwritingRule,
    pick_language,
)
from underwriting.templatetags.catalogue import amount, money
from underwriting.templatetags.catalogue import number as plain_number


@admin.register(Insurer)
class InsurerAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en"]
    search_fields = ["code", "name_zh", "name_en"]


class ProductInsurerInline(admin.TabularInline):
    model = ProductInsurer
    extra = 0
    autocomplete_fields = ["insurer"]


def _confirm(modeladmin, request, queryset, *, title, action, apply, button):
    """An intermediate page: the product manager confirms before a change of consequence."""
    if request.POST.get("confirmed") == "yes":
        done = 0
        for obj in queryset:
            try:
                apply(obj)
            except DomainError as error:
                modeladmin.message_user(request, f"{obj}: {error.message}", messages.ERROR)
            else:
                done += 1
        if done:
            modeladmin.message_user(request, _("%(n)d done.") % {"n": done}, messages.SUCCESS)
        return None
    return TemplateResponse(
        request,
        "admin/underwriting/confirm_action.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "objects": queryset,
            "action": action,
            "button": button,
            "opts": modeladmin.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        },
    )


@admin.register(Product)
class ProductAdmin(HistoryAdmin):
    list_display = ["code", "name_zh", "name_en", "liability_class", "function_class", "status"]
    list_filter = ["status", "liability_class", "function_class", "insurers"]
    search_fields = ["code", "name_zh", "name_en"]
    readonly_fields = ["status"]
    inlines = [ProductInsurerInline]
    actions = ["publish_products", "withdraw_products"]

    @admin.action(description=_("Publish selected products"), permissions=["change"])
    def publish_products(self, request, queryset):
        return _confirm(
            self,
            request,
            queryset,
            title=_("Publish these products?"),
            action="publish_products",
            button=_("Yes, publish"),
            apply=lambda p: services.product_publish(product=p, actor=request.user),
        )

    @admin.action(description=_("Withdraw selected products"), permissions=["change"])
    def withdraw_products(self, request, queryset):
        return _confirm(
            self,
            request,
            queryset,
            title=_("Withdraw these products? They disappear from the public catalogue."),
            action="withdraw_products",
            button=_("Yes, withdraw"),
            apply=lambda p: services.product_withdraw(product=p, actor=request.user),
        )


@admin.register(Rider)
class RiderAdmin(HistoryAdmin):
    list_display = ["code", "name_zh", "name_en", "status"]
    list_filter = ["status"]
    search_fields = ["code", "name_zh", "name_en"]
    filter_horizontal = ["main_products", "insurers"]
    readonly_fields = ["status"]
    actions = ["publish_riders", "withdraw_riders"]

    @admin.action(description=_("Publish selected riders"), permissions=["change"])
    def publish_riders(self, request, queryset):
        return _confirm(
            self,
            request,
            queryset,
            title=_("Publish these riders?"),
            action="publish_riders",
            button=_("Yes, publish"),
            apply=lambda r: services.rider_publish(rider=r, actor=request.user),
        )

    @admin.action(description=_("Withdraw selected riders"), permissions=["change"])
    def withdraw_riders(self, request, queryset):
        return _confirm(
            self,
            request,
            queryset,
            title=_("Withdraw these riders? They can no longer be added to a quote."),
            action="withdraw_riders",
            button=_("Yes, withdraw"),
            apply=lambda r: services.rider_withdraw(rider=r, actor=request.user),
        )


class FrozenWhenPublishedInline:
    """Inline rows of a published clause version are shown, never editable."""

    def _frozen(self, obj):
        return obj is not None and obj.status == ClauseStatus.PUBLISHED

    def has_add_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_delete_permission(request, obj)


class RatingSectionInline(FrozenWhenPublishedInline, admin.TabularInline):
    model = RatingSection
    extra = 0


class CoefficientTableInline(FrozenWhenPublishedInline, admin.TabularInline):
    model = CoefficientTable
    extra = 0
    show_change_link = True
    fields = ["code", "name_zh", "name_en", "applies_to", "input_key", "position"]


class RiderFactorInline(FrozenWhenPublishedInline, admin.TabularInline):
    model = RiderFactor
    extra = 0


@admin.register(ClauseVersion)
class ClauseVersionAdmin(HistoryAdmin):
    list_display = ["__str__", "status", "effective_date", "short_hash", "compare_link"]
    list_filter = ["status", "product", "rider"]
    list_select_related = ["product", "rider"]
    search_fields = ["label", "product__code", "rider__code"]
    readonly_fields = [
        "status",
        "number",
        "text_sha256",
        "based_on",
        "published_at",
        "published_by",
    ]
    inlines = [RatingSectionInline, CoefficientTableInline, RiderFactorInline]
    actions = ["publish_versions", "new_draft_from"]

    @admin.display(description=_("SHA-256"))
    def short_hash(self, obj):
        return obj.text_sha256[:12] if obj.text_sha256 else "—"

    @admin.display(description=_("Compare"))
    def compare_link(self, obj):
        if not obj.based_on_id:
            return "—"
        url = reverse("admin:underwriting_clauseversion_compare", args=[obj.based_on_id, obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("with previous"))

    def has_change_permission(self, request, obj=None):
        # Published wording is evidence: nobody edits it, whatever their permissions.
        if obj is not None and obj.status == ClauseStatus.PUBLISHED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status == ClauseStatus.PUBLISHED:
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["product", "rider"]
        return fields

    def save_model(self, request, obj, form, change):
        if change:
            changed = {name: form.cleaned_data[name] for name in form.changed_data}
            changed = {k: v for k, v in changed.items() if k in services.WORDING_FIELDS}
            fresh = ClauseVersion.objects.get(pk=obj.pk)
            services.clause_version_update(version=fresh, actor=request.user, **changed)
        else:
            fields = {
                name: form.cleaned_data[name]
                for name in services.WORDING_FIELDS
                if name in form.cleaned_data
            }
            created = services.clause_version_create_draft(
                actor=request.user,
                product=form.cleaned_data.get("product"),
                rider=form.cleaned_data.get("rider"),
                **fields,
            )
            obj.pk = created.pk
            obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for row in formset.deleted_objects:
            services.rating_row_delete(row=row, actor=request.user)
        for row in instances:
            services.rating_row_save(row=row, actor=request.user)
        formset.save_m2m()

    def get_urls(self):
        return [
            path(
                "<id:old_id>/compare/<id:new_id>/",
                self.admin_site.admin_view(self.compare_view),
                name="underwriting_clauseversion_compare",
            ),
            *super().get_urls(),
        ]

    def compare_view(self, request, old_id, new_id):
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        old = get_object_or_404(ClauseVersion, pk=old_id)
        new = get_object_or_404(ClauseVersion, pk=new_id)
        return TemplateResponse(
            request,
            "admin/underwriting/clause_compare.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Compare %(old)s with %(new)s") % {"old": old, "new": new},
                "old": old,
                "new": new,
                "changes": services.clause_versions_compare(old, new),
                "opts": self.model._meta,
            },
        )

    @admin.action(description=_("Publish selected drafts"), permissions=["change"])
    def publish_versions(self, request, queryset):
        return _confirm(
            self,
            request,
            queryset,
            title=_(
                "Publish these clause versions? Once published their wording and rating can "
                "never change."
            ),
            action="publish_versions",
            button=_("Yes, publish"),
            apply=lambda v: services.clause_version_publish(version=v, actor=request.user),
        )

    @admin.action(description=_("Start a new draft from the selected version"), permissions=["add"])
    def new_draft_from(self, request, queryset):
        for version in queryset:
            try:
                draft = services.clause_version_create_draft(
                    actor=request.user, product=version.product, rider=version.rider
                )
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, _("Draft %(v)s created.") % {"v": draft})
                if queryset.count() == 1:
                    return redirect("admin:underwriting_clauseversion_change", draft.pk)
        return None


class CoefficientOptionInline(admin.TabularInline):
    model = CoefficientOption
    extra = 0

    def _frozen(self, obj):
        return obj is not None and obj.clause_version.status == ClauseStatus.PUBLISHED

    def has_add_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_delete_permission(request, obj)


@admin.register(CoefficientTable)
class CoefficientTableAdmin(admin.ModelAdmin):
    list_display = ["__str__", "clause_version"]
    list_select_related = ["clause_version__product", "clause_version__rider"]
    inlines = [CoefficientOptionInline]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.clause_version.status == ClauseStatus.PUBLISHED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.clause_version.status == ClauseStatus.PUBLISHED:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        services.rating_row_save(row=obj, actor=request.user)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for row in formset.deleted_objects:
            services.rating_row_delete(row=row, actor=request.user)
        for row in instances:
            services.rating_row_save(row=row, actor=request.user)


# =============================================================================================
# The referral queue: applications, quotes, underwriters' authority, questionnaires and rules.
# These pages read and ask; every write of consequence goes through ``underwriting.services``.
# =============================================================================================

CHANGE_APPLICATION = "underwriting.change_application"
APPROVE_QUOTE = "underwriting.approve_quote"
# Statuses in which an application waits for an underwriter; their queue runs oldest first.
OPEN_STATUSES = (
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.REFERRED,
    ApplicationStatus.INFO_REQUESTED,
)
REFERENCE_RE = re.compile(r"AP\d{4}-(\d+)", re.IGNORECASE)
# What the queue's columns read; the rest of a row (snapshots, limits, answers) stays in the DB.
QUEUE_FIELDS = [
    "id",
    "created_at",
    "status",
    "status_changed_at",
    "sum_insured",
    "firm",
    "product",
    "assigned_to",
]
# The columns it shows of the firm, the product and the underwriter, read as columns of the
# page's rows (QueueChangeList): building those three instances for each of 50 rows cost more
# than the rest of the query. The list methods read these names where they are (firm_name).
QUEUE_RELATED = {
    "queue_firm_name_zh": F("firm__name_zh"),
    "queue_firm_name_en": F("firm__name_en"),
    "queue_product_code": F("product__code"),
    "queue_assignee_name": F("assigned_to__full_name"),
    "queue_assignee_email": F("assigned_to__email"),
}


class RuleHitCount(Func):
    """How many hits ``rule_results`` lists, counted by the database (0 unless a JSON list), so
    the queue does not fetch and decode each row's rule results to show a number."""

    output_field = IntegerField()
    vendors = ("postgresql", "sqlite")

    def as_postgresql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"CASE WHEN jsonb_typeof({sql}) = 'array' THEN jsonb_array_length({sql}) ELSE 0 END",
            (*params, *params),
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"COALESCE(json_array_length({sql}), 0)", params


DIMENSION_LABELS = {
    "legal": _("Legal"),
    "technical": _("Technical"),
    "economic": _("Economic"),
}
# The valuation engine's stable label keys (underwriting.valuation.InputEffect.label_key).
EFFECT_LABELS = {
    "annual_revenue": _("Annual revenue from the patent"),
    "royalty_rate": _("Royalty rate (%)"),
    "economic_life_years": _("Economic life (years)"),
    "discount_rate": _("Discount rate (%)"),
    "tax_rate": _("Tax rate (%)"),
    "growth_rate": _("Growth rate (%)"),
    "rd_cost": _("R&D cost"),
    "obsolescence": _("Obsolescence (%)"),
    "remaining_term_years": _("Remaining term (years)"),
    "remaining_term": _("Remaining term"),
    "family": _("Patent family"),
    "invalidation": _("Invalidation history"),
    "claims": _("Patent claims"),
    "non_circumventability": _("Hard to design around"),
    "maturity": _("Technical maturity"),
    "substitutes": _("Substitutes"),
    "market_share": _("Market share"),
    "sales": _("Sales"),
    "licensing": _("Licensing"),
}
OPERATOR_TEXT = {
    "eq": "=",
    "ne": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "in": _("is one of"),
    "contains": _("contains"),
    "truthy": _("is yes"),
    "falsy": _("is no"),
}


def _require_perm(request, perm: str) -> None:
    """Action pages answer 403 to staff without the permission (claims handlers, ...)."""
    if not request.user.has_perm(perm):
        raise Forbidden


def _days_since(moment) -> int | None:
    if moment is None:
        return None
    return max((timezone.now() - moment).days, 0)


def _outcome_label(outcome) -> str:
    try:
        return str(RuleOutcome(outcome).label)
    except ValueError:
        return str(outcome or "")


def _answer_text(question, value) -> str:
    """An answer as the applicant chose it: option labels, yes / no, numbers with their unit."""
    if value is None or value == "" or value == []:
        return "—"
    question = question or {}
    options = {
        str(option.get("code")): pick_language(option.get("label"))
        for option in question.get("options") or ()
    }
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, list):
        return "、".join(options.get(str(v), str(v)) for v in value)
    if options:
        return options.get(str(value), str(value))
    text = amount(value) if question.get("kind") in ("number", "integer") else str(value)
    unit = pick_language(question.get("unit"))
    return f"{text} {unit}".strip()


def _answer_rows(questions, answers) -> list[dict]:
    """Answers in the questionnaire's order, each with its question; an answer whose question
    the questionnaire does not have keeps its code as the label."""
    answers = answers or {}
    rows, seen = [], set()
    for question in questions or ():
        code = question.get("code")
        if code not in answers:
            continue
        seen.add(code)
        rows.append(
            {
                "code": code,
                "group": pick_language(question.get("group")),
                "label": pick_language(question.get("label")) or code,
                "answer": _answer_text(question, answers[code]),
            }
        )
    for code, value in answers.items():
        if code not in seen:
            rows.append(
                {"code": code, "group": "", "label": code, "answer": _answer_text(None, value)}
            )
    return rows


def _valuation_view(valuation) -> dict | None:
    """A stored valuation (``PatentValuation.to_dict``) with labelled dimensions and effects."""
    if not valuation:
        return None
    if valuation.get("error"):
        return {"error": valuation["error"]}
    effects = valuation.get("effects") or ()

    def rows(prefix):
        return [
            {
                "label": EFFECT_LABELS.get(row.get("label_key"), row.get("label_key")),
                "value_shown": row.get("value_shown"),
                "effect": row.get("effect"),
            }
            for row in effects
            if str(row.get("key", "")).startswith(prefix)
        ]

    return {
        **valuation,
        "dimensions": [
            {"label": DIMENSION_LABELS.get(name, name), "score": score}
            for name, score in (valuation.get("dimension_scores") or {}).items()
        ],
        "value_effects": rows("value."),
        "score_effects": rows("score."),
    }


def _exclusion_view(exclusion) -> dict:
    exclusion = exclusion or {}
    return {key: pick_language(exclusion.get(key)) for key in ("title", "text", "explanation")}


def _rule_rows(results) -> list[dict]:
    return [
        {
            "code": hit.get("code", ""),
            "outcome": hit.get("outcome", ""),
            "outcome_label": _outcome_label(hit.get("outcome")),
            "reason": pick_language(hit.get("reason")),
            "exclusion": pick_language((hit.get("exclusion") or {}).get("title")),
        }
        for hit in results or ()
    ]


def _section_names(version) -> dict:
    return {section.code: section for section in version.rating_sections.all()}


def _limit_rows(limits, sections: dict) -> list[dict]:
    return [
        {
            "code": code,
            "name": sections[code].name if code in sections else code,
            "limit": value,
            "per_item": bool(sections[code].per_item) if code in sections else False,
        }
        for code, value in (limits or {}).items()
    ]


def _rider_names(version) -> dict:
    return {f.rider.code: f.rider.name for f in version.rider_factors.select_related("rider")}


def _deductible_label(version, code: str) -> str:
    if not code:
        return "—"
    for table in version.coefficient_tables.filter(input_key="deductible_rate"):
        for option in table.options.all():
            if option.code == code:
                return f"{option.label} ({code})"
    return code


def _cell(value, empty, plain_ints: bool) -> str:
    """A changelist value as display_for_value() shows it and format_html() escapes it; the
    queue's strings and counts take a short path (``plain_ints``: no thousands separator)."""
    if type(value) is str:
        value = value.strip()
        return html.escape(value) if value else empty
    if plain_ints and type(value) is int:
        return str(value)
    return conditional_escape(display_for_value(value, empty))


# --- Filters ------------------------------------------------------------------------------------

QUEUE_FILTER_TEMPLATE = "admin/underwriting/application/filter.html"


class StatusFilter(PrerenderedChoicesMixin, admin.ChoicesFieldListFilter):
    template = QUEUE_FILTER_TEMPLATE


# The product names of the filter by key (which holds the catalogue version), also kept in the
# process: a page then reads only the version from the cache, not the names too.
_PRODUCT_NAMES: dict[str, list] = {}
_PRODUCT_NAMES_MAX = 32


class ProductFilter(PrerenderedChoicesMixin, admin.RelatedFieldListFilter):
    template = QUEUE_FILTER_TEMPLATE

    def field_choices(self, field, request, model_admin):
        # As Django's field.get_choices(), loading only the names (a product's summaries and
        # settings were most of the filter's cost), and kept with the catalogue's version.
        ordering = self.field_admin_ordering(field, request, model_admin)
        key = catalogue_cache.product_names_key(ordering, get_language())
        choices = _PRODUCT_NAMES.get(key) if key is not None else None
        if choices is None:
            choices = catalogue_cache.get(key)
        if choices is None:
            products = Product._default_manager.only("pk", "name_zh", "name_en")
            if ordering:
                products = products.order_by(*ordering)
            choices = [(product.pk, str(product)) for product in products]
            catalogue_cache.put(key, choices)
        if key is not None:
            if len(_PRODUCT_NAMES) >= _PRODUCT_NAMES_MAX:
                _PRODUCT_NAMES.clear()
            _PRODUCT_NAMES[key] = choices
        # A copy, so that nothing done to the filter's list can reach the kept one.
        return list(choices)


class AssignedFilter(PrerenderedChoicesMixin, admin.SimpleListFilter):
    template = QUEUE_FILTER_TEMPLATE
    title = _("underwriter")
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        return [("me", _("Assigned to me")), ("none", _("Unassigned"))]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(assigned_to=request.user)
        if self.value() == "none":
            return queryset.filter(assigned_to__isnull=True)
        return queryset

    def choices(self, changelist):
        choices = list(super().choices(changelist))
        if choices:
            choices[0]["display"] = _("Anyone")
        return choices


class AgeFilter(PrerenderedChoicesMixin, admin.SimpleListFilter):
    """Whole days in the current status, as the queue's age column shows them."""

    template = QUEUE_FILTER_TEMPLATE

    title = _("age in the current status")
    parameter_name = "age"

    def lookups(self, request, model_admin):
        return [
            ("lt2", _("Less than 2 days")),
            ("2to7", _("2 to 7 days")),
            ("gt7", _("More than 7 days")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        two_days, eight_days = now - timedelta(days=2), now - timedelta(days=8)
        if self.value() == "lt2":
            return queryset.filter(status_changed_at__gt=two_days)
        if self.value() == "2to7":
            return queryset.filter(
                status_changed_at__lte=two_days, status_changed_at__gt=eight_days
            )
        if self.value() == "gt7":
            return queryset.filter(status_changed_at__lte=eight_days)
        return queryset


# --- Underwriters' forms --------------------------------------------------------------------------


class ConfirmForm(forms.Form):
    """No fields: the button is the decision."""


class DeclineForm(forms.Form):
    reasons = forms.CharField(
        label=_("Reasons for the decline"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text=_("The applicant reads them: write plainly."),
    )


class AskForm(forms.Form):
    question = forms.CharField(
        label=_("Question to the applicant"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text=_("The application waits for the answer and then comes back to you."),
    )


class RejectQuoteForm(forms.Form):
    reason = forms.CharField(
        label=_("Why the quote is not approved"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text=_("The underwriter who set the terms reads it on the application's timeline."),
    )


class TermsForm(forms.Form):
    """Terms an underwriter sets on a referred application; the limits start as they are."""

    adjustment_percent = forms.DecimalField(
        label=_("Loading (+) or discount (−) in %"),
        max_digits=5,
        decimal_places=2,
        initial=Decimal("0"),
        help_text=_(
            "Applied to the premium from the rating table, in percent: 10 for a loading of "
            "ten percent, -5 for a discount of five percent."
        ),
    )
    note = forms.CharField(
        label=_("Note for the timeline"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
    )

    def __init__(self, *args, sections, limits, **kwargs):
        super().__init__(*args, **kwargs)
        self.sections = list(sections)
        for section in self.sections:
            self.fields[f"limit_{section.code}"] = forms.DecimalField(
                label=_("Limit: %(section)s") % {"section": section.name},
                required=False,
                min_value=Decimal("0"),
                max_digits=14,
                decimal_places=2,
                initial=(limits or {}).get(section.code),
                help_text=_("Per insured right.") if section.per_item else "",
            )
        self.order_fields(
            ["adjustment_percent", *[f"limit_{s.code}" for s in self.sections], "note"]
        )

    def clean(self):
        data = super().clean()
        if self.sections and not any(
            data.get(f"limit_{section.code}") for section in self.sections
        ):
            raise ValidationError(_("Enter a limit for at least one cover section."))
        return data

    def limits(self) -> dict:
        return {
            section.code: str(self.cleaned_data[f"limit_{section.code}"])
            for section in self.sections
            if self.cleaned_data.get(f"limit_{section.code}")
        }


def _limits_differ(old: dict, new: dict) -> bool:
    def normal(limits):
        return {k: Decimal(str(v)) for k, v in (limits or {}).items() if v not in (None, "")}

    return normal(old) != normal(new)


class ExclusionForm(forms.Form):
    """One special exclusion: Chinese required, English optional."""

    title_zh = forms.CharField(label=_("Title (Chinese)"), max_length=200)
    title_en = forms.CharField(label=_("Title (English)"), max_length=200, required=False)
    text_zh = forms.CharField(
        label=_("Clause text (Chinese)"), widget=forms.Textarea(attrs={"rows": 3, "cols": 80})
    )
    text_en = forms.CharField(
        label=_("Clause text (English)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
    )
    explanation_zh = forms.CharField(
        label=_("Plain explanation (Chinese)"),
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
    )
    explanation_en = forms.CharField(
        label=_("Plain explanation (English)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
    )

    def exclusion(self) -> dict:
        data = self.cleaned_data
        return {
            key: {"zh": data[f"{key}_zh"], "en": data.get(f"{key}_en", "")}
            for key in ("title", "text", "explanation")
        }


ExclusionFormSet = formset_factory(ExclusionForm, extra=1, max_num=20, validate_max=True)


def _exclusion_formset(request):
    """Bound to the POST; "add another" re-renders with one more empty row (no JavaScript)."""
    if request.method != "POST":
        return ExclusionFormSet(prefix="exclusions")
    data = request.POST.copy()
    if "_more_exclusions" in data:
        key = "exclusions-TOTAL_FORMS"
        try:
            data[key] = str(int(data.get(key, "0")) + 1)
        except ValueError:
            data[key] = "1"
    return ExclusionFormSet(data, prefix="exclusions")


# --- Applications ---------------------------------------------------------------------------------


class QueueChangeList(RowLinkChangeList):
    """The referral queue's changelist. Its page of rows reads the names of each row's firm,
    product and underwriter as columns (QUEUE_RELATED) instead of loading those rows: they are
    joined to the page's slice only, after the count, which stays a count of applications alone
    (joined there, they made it ~20 times slower)."""

    def get_results(self, request):
        super().get_results(request)
        self.result_list = self.result_list.annotate(**QUEUE_RELATED)


@admin.register(Application)
class ApplicationAdmin(HistoryAdmin):
    """The referral queue. Nothing here edits an application directly: the page shows what the
    applicant declared and what the portal made of it, and the buttons call the services."""

    list_display = [
        "reference",
        "firm_name",
        "product_code",
        "status",
        "sum_insured_display",
        "age",
        "assigned_name",
        "rule_hits",
    ]
    list_display_links = ["reference"]
    list_filter = [("status", StatusFilter), ("product", ProductFilter), AssignedFilter, AgeFilter]
    # No related rows: the queue's page reads their names as columns (QueueChangeList).
    list_select_related = False
    # "N of 50,000 in total" would count every application ever made on each page view.
    show_full_result_count = False
    # Each row costs eight formatted cells and its link: 50 rows render in half the time of the
    # default 100, and an underwriter works the top of the queue.
    list_per_page = 50
    search_fields = ["firm__name_zh", "firm__name_en", "firm__uscc", "id__exact"]
    search_help_text = _("Firm name, USCC, application id or reference (AP2025-000123).")
    actions = []
    change_form_template = "admin/underwriting/application/change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "reference",
                    "status",
                    "firm",
                    "product",
                    "clause_version",
                    "assigned_to",
                    "status_changed_at",
                    "age",
                ]
            },
        ),
        (
            _("Cover asked for"),
            {
                "fields": [
                    "insured_rights",
                    "limits_display",
                    "sum_insured_display",
                    "deductible_display",
                    "riders_display",
                    "wished_start",
                ]
            },
        ),
        (
            _("Declaration"),
            {"fields": ["submitted_at", "declared_at", "declared_by", "answers_sha256"]},
        ),
    ]
    readonly_fields = [
        "reference",
        "status",
        "firm",
        "product",
        "clause_version",
        "assigned_to",
        "status_changed_at",
        "age",
        "insured_rights",
        "limits_display",
        "sum_insured_display",
        "deductible_display",
        "riders_display",
        "wished_start",
        "submitted_at",
        "declared_at",
        "declared_by",
        "answers_sha256",
    ]

    # -- permissions: view only; the actions have their own guarded pages --

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # -- the queue --

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        match = request.resolver_match
        if match and match.url_name == "underwriting_application_changelist":
            if connections[queryset.db].vendor in RuleHitCount.vendors:
                return queryset.only(*QUEUE_FIELDS).annotate(
                    queue_rule_hits=RuleHitCount("rule_results")
                )
            return queryset.only(*QUEUE_FIELDS, "rule_results")
        return queryset.select_related(
            "firm", "product", "clause_version__product", "assigned_to", "declared_by"
        )

    def get_changelist(self, request, **kwargs):
        return QueueChangeList

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and context.get("is_nav_sidebar_enabled") and "available_apps" in context:
            context["nav_sidebar_html"] = nav_sidebar_html(request, context["available_apps"])
        if context and isinstance(context.get("media"), Media):
            context["media"] = KeptMedia.of(context["media"])
        return response

    def get_ordering(self, request):
        if request.GET.get("status__exact") in OPEN_STATUSES:
            return ["status_changed_at", "id"]
        return ["-status_changed_at", "-id"]

    def get_search_results(self, request, queryset, search_term):
        match = REFERENCE_RE.fullmatch(search_term.strip())
        if match:
            return queryset.filter(pk=int(match.group(1))), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("reference"), ordering="id")
    def reference(self, obj):
        return obj.reference

    @admin.display(description=_("firm"), ordering="firm__name_zh")
    def firm_name(self, obj):
        # The queue's rows bring the names, not the firm (QUEUE_RELATED).
        name_zh = getattr(obj, "queue_firm_name_zh", None)
        if name_zh is None:
            return obj.firm.name
        return bilingual_name(name_zh, obj.queue_firm_name_en)

    @admin.display(description=_("product"), ordering="product__code")
    def product_code(self, obj):
        code = getattr(obj, "queue_product_code", None)
        return obj.product.code if code is None else code

    @admin.display(description=_("sum insured"), ordering="sum_insured")
    def sum_insured_display(self, obj):
        return money(obj.sum_insured)

    @admin.display(description=_("age (days)"), ordering="-status_changed_at")
    def age(self, obj):
        return _days_since(obj.status_changed_at)

    @admin.display(description=_("underwriter"), ordering="assigned_to__email")
    def assigned_name(self, obj):
        if not obj.assigned_to_id:
            return "—"
        email = getattr(obj, "queue_assignee_email", None)
        if email is None:
            return str(obj.assigned_to)
        # As User.__str__ puts it.
        return obj.queue_assignee_name or email

    @admin.display(description=_("rule hits"))
    def rule_hits(self, obj):
        # Counted by the queue's query where the database can (see get_queryset).
        hits = getattr(obj, "queue_rule_hits", None)
        return len(obj.rule_results or ()) if hits is None else hits

    def result_rows(self, changelist) -> list[str] | None:
        """The queue's rows as Django's items_for_result() renders them (cells, classes, link,
        escaping, empty value), one f-string a row; None leaves any other column set to Django."""
        if (
            changelist.list_display != self.list_display
            or changelist.list_display_links != self.list_display_links
        ):
            return None
        empty = self.get_empty_value_display()
        plain = not settings.USE_THOUSAND_SEPARATOR
        statuses = {
            value: html.escape(str(label))
            for value, label in Application._meta.get_field("status").flatchoices
        }
        link = changelist.url_for_result
        rows = []
        for obj in changelist.result_list:
            rows.append(
                f'<th class="field-reference"><a href="{html.escape(link(obj))}">'
                f"{_cell(self.reference(obj), empty, plain)}</a></th>"
                f'<td class="field-firm_name">{_cell(self.firm_name(obj), empty, plain)}</td>'
                f'<td class="field-product_code">{_cell(self.product_code(obj), empty, plain)}</td>'
                f'<td class="field-status">{statuses.get(obj.status, empty)}</td>'
                f'<td class="field-sum_insured_display">'
                f"{_cell(self.sum_insured_display(obj), empty, plain)}</td>"
                f'<td class="field-age">{_cell(self.age(obj), empty, plain)}</td>'
                f'<td class="field-assigned_name">'
                f"{_cell(self.assigned_name(obj), empty, plain)}</td>"
                f'<td class="field-rule_hits">{_cell(self.rule_hits(obj), empty, plain)}</td>'
            )
        return rows

    # -- the change page --

    @admin.display(description=_("insured rights"))
    def insured_rights(self, obj):
        items = obj.insured_assets.select_related("asset")
        return (
            format_html_join(
                "",
                "<div>{}</div>",
                ((str(item.asset),) for item in items),
            )
            or "—"
        )

    @admin.display(description=_("limits"))
    def limits_display(self, obj):
        rows = _limit_rows(obj.limits, _section_names(obj.clause_version))
        if not rows:
            return "—"
        return format_html_join(
            "",
            "<div>{}: CNY {}{}</div>",
            (
                (
                    row["name"],
                    amount(row["limit"]),
                    gettext(" per right") if row["per_item"] else "",
                )
                for row in rows
            ),
        )

    @admin.display(description=_("deductible"))
    def deductible_display(self, obj):
        return _deductible_label(obj.clause_version, obj.deductible)

    @admin.display(description=_("riders"))
    def riders_display(self, obj):
        if not obj.rider_codes:
            return "—"
        names = _rider_names(obj.clause_version)
        return "、".join(f"{names.get(code, code)} ({code})" for code in obj.rider_codes)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self._detail_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _detail_context(self, request, application) -> dict:
        version = application.clause_version
        questionnaires = {q.kind: q.questions for q in version.questionnaires.all()}
        frozen = application.frozen_answers or {}
        declared = bool(frozen)
        risk_answers = frozen.get("risk_answers", {}) if declared else application.risk_answers
        frozen_assets = {entry.get("id"): entry for entry in frozen.get("assets") or ()}
        insured = []
        for item in application.insured_assets.select_related("asset"):
            answers = (
                (frozen_assets.get(item.asset_id) or {}).get("valuation_answers", {})
                if declared
                else item.valuation_answers
            )
            insured.append(
                {
                    "asset": item.asset,
                    "answers": _answer_rows(
                        questionnaires.get(QuestionnaireKind.VALUATION), answers
                    ),
                    "valuation": _valuation_view(item.valuation),
                }
            )
        return {
            "application": application,
            "declared": declared,
            "risk_answers": _answer_rows(questionnaires.get(QuestionnaireKind.RISK), risk_answers),
            "insured": insured,
            "valuation_total": (application.valuation or {}).get("total"),
            "rating": application.rating or {},
            "rule_rows": _rule_rows(application.rule_results),
            "events": application.events.select_related("actor"),
            "asked": application.questions.select_related("asked_by", "answered_by"),
            "quotes": application.quotes.select_related("created_by", "approved_by").order_by(
                "created_at", "id"
            ),
            "underwriter_actions": self._actions_for(request, application),
        }

    def _actions_for(self, request, application) -> list[dict]:
        """The buttons this user may press now; none without ``change_application``."""
        if not request.user.has_perm(CHANGE_APPLICATION):
            return []
        actions = []
        status = application.status
        if status in OPEN_STATUSES and application.assigned_to_id != request.user.pk:
            actions.append(("assign", _("Assign to me")))
        if status == ApplicationStatus.REFERRED:
            actions += [
                ("terms", _("Set terms and quote")),
                ("ask", _("Ask the applicant")),
                ("decline", _("Decline")),
            ]
        return [
            {
                "name": name,
                "label": label,
                "url": reverse(f"admin:underwriting_application_{name}", args=[application.pk]),
            }
            for name, label in actions
        ]

    # -- the underwriters' pages --

    def get_urls(self):
        def view(name, func):
            return path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(func),
                name=f"underwriting_application_{name}",
            )

        return [
            view("assign", self.assign_view),
            view("terms", self.terms_view),
            view("decline", self.decline_view),
            view("ask", self.ask_view),
            *super().get_urls(),
        ]

    def _for_action(self, request, object_id) -> Application:
        _require_perm(request, CHANGE_APPLICATION)
        application = self.get_object(request, unquote(object_id))
        if application is None:
            raise Http404
        return application

    def _change_url(self, application) -> str:
        return reverse("admin:underwriting_application_change", args=[application.pk])

    def _page(self, request, application, template, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "application": application,
                "cancel_url": self._change_url(application),
                **context,
            },
        )

    def _simple_action(self, request, object_id, *, form_class, title, button, intro, call, done):
        """GET shows the small form; POST calls the service and returns to the application, or
        shows the service's refusal as a message on the same form."""
        application = self._for_action(request, object_id)
        form = form_class(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                call(application, form.cleaned_data)
            except DomainError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, done % {"reference": application.reference})
                return redirect(self._change_url(application))
        return self._page(
            request,
            application,
            "admin/underwriting/application/action.html",
            title=title % {"reference": application.reference},
            form=form,
            button=button,
            intro=intro,
        )

    def assign_view(self, request, object_id):
        return self._simple_action(
            request,
            object_id,
            form_class=ConfirmForm,
            title=_("Assign %(reference)s to me"),
            button=_("Assign to me"),
            intro=_("You become the underwriter of this application."),
            call=lambda app, data: services.application_assign(application=app, actor=request.user),
            done=_("%(reference)s is assigned to you."),
        )

    def decline_view(self, request, object_id):
        return self._simple_action(
            request,
            object_id,
            form_class=DeclineForm,
            title=_("Decline %(reference)s"),
            button=_("Decline the application"),
            intro=_("The applicant is told at once, with your reasons. This cannot be undone."),
            call=lambda app, data: services.application_decline(
                application=app, actor=request.user, reasons=data["reasons"]
            ),
            done=_("%(reference)s was declined."),
        )

    def ask_view(self, request, object_id):
        return self._simple_action(
            request,
            object_id,
            form_class=AskForm,
            title=_("Ask the applicant about %(reference)s"),
            button=_("Send the question"),
            intro=_("The application waits for the applicant's answer."),
            call=lambda app, data: services.application_ask(
                application=app, actor=request.user, question=data["question"]
            ),
            done=_("Your question on %(reference)s was sent to the applicant."),
        )

    def terms_view(self, request, object_id):
        application = self._for_action(request, object_id)
        sections = list(application.clause_version.rating_sections.all())
        form = TermsForm(
            request.POST if request.method == "POST" else None,
            sections=sections,
            limits=application.limits,
        )
        formset = _exclusion_formset(request)
        if (
            request.method == "POST"
            and "_more_exclusions" not in request.POST
            and form.is_valid()
            and formset.is_valid()
        ):
            limits = form.limits()
            try:
                quote = services.underwriter_quote(
                    application=application,
                    actor=request.user,
                    adjustment_percent=form.cleaned_data["adjustment_percent"],
                    special_exclusions=[f.exclusion() for f in formset if f.has_changed()],
                    limits=limits if _limits_differ(application.limits, limits) else None,
                    note=form.cleaned_data["note"],
                )
            except DomainError as error:
                messages.error(request, error.message)
            else:
                params = {
                    "number": quote.number,
                    "premium": money(quote.premium),
                    "sum": money(quote.sum_insured),
                }
                if quote.status == QuoteStatus.PENDING_APPROVAL:
                    messages.warning(
                        request,
                        _(
                            "Quote %(number)s (premium CNY %(premium)s) awaits a senior "
                            "underwriter's approval: the sum insured of CNY %(sum)s is above your "
                            "authority. The applicant sees it once it is approved."
                        )
                        % params,
                    )
                else:
                    messages.success(
                        request,
                        _("Quote %(number)s was offered to the applicant: premium CNY %(premium)s.")
                        % params,
                    )
                return redirect("admin:underwriting_quote_change", quote.pk)
        authority = services.authority_of(request.user)
        return self._page(
            request,
            application,
            "admin/underwriting/application/terms.html",
            title=_("Terms and quote for %(reference)s") % {"reference": application.reference},
            form=form,
            formset=formset,
            authority=authority,
            authority_sum=(
                authority.max_sum_insured
                if authority
                else Decimal(str(getattr(settings, "UNDERWRITER_DEFAULT_AUTHORITY", "1000000")))
            ),
            # The services' default when no authority row exists.
            authority_adjustment=authority.max_adjustment_percent if authority else Decimal("25"),
            rating=application.rating or {},
            rule_rows=_rule_rows(application.rule_results),
        )


# --- Quotes ---------------------------------------------------------------------------------------


@admin.register(Quote)
class QuoteAdmin(HistoryAdmin):
    list_display = [
        "number",
        "application_link",
        "status",
        "premium_display",
        "sum_insured_display",
        "valid_until",
        "created_by_name",
        "pdf_status_display",
    ]
    list_filter = ["status", "pdf_status"]
    list_select_related = ["application", "created_by"]
    search_fields = [
        "number",
        "application__firm__name_zh",
        "application__firm__name_en",
        "application__firm__uscc",
    ]
    actions = ["approve_quotes", "reject_quotes"]
    change_form_template = "admin/underwriting/quote/change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number",
                    "application_link",
                    "status",
                    "valid_until",
                    "created_at",
                    "created_by_name",
                    "approved_by",
                    "approved_at",
                    "pdf_status_display",
                ]
            },
        ),
        (
            _("Cover"),
            {
                "fields": [
                    "sum_insured_display",
                    "limits_display",
                    "deductible_display",
                    "riders_display",
                ]
            },
        ),
        (
            _("Premium"),
            {
                "fields": [
                    "technical_premium_display",
                    "adjustment_display",
                    "premium_display",
                ]
            },
        ),
    ]
    readonly_fields = [
        "number",
        "application_link",
        "status",
        "valid_until",
        "created_at",
        "created_by_name",
        "approved_by",
        "approved_at",
        "pdf_status_display",
        "sum_insured_display",
        "limits_display",
        "deductible_display",
        "riders_display",
        "technical_premium_display",
        "adjustment_display",
        "premium_display",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_approve_permission(self, request, obj=None):
        return request.user.has_perm(APPROVE_QUOTE)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "application__firm", "application__clause_version", "created_by", "approved_by"
            )
        )

    @admin.display(description=_("application"), ordering="application_id")
    def application_link(self, obj):
        url = reverse("admin:underwriting_application_change", args=[obj.application_id])
        return format_html('<a href="{}">{}</a>', url, obj.application.reference)

    @admin.display(description=_("premium"), ordering="premium")
    def premium_display(self, obj):
        return money(obj.premium)

    @admin.display(description=_("sum insured"), ordering="sum_insured")
    def sum_insured_display(self, obj):
        return money(obj.sum_insured)

    @admin.display(description=_("premium from the rating table"))
    def technical_premium_display(self, obj):
        return money(obj.technical_premium)

    @admin.display(description=_("loading (+) or discount (−)"))
    def adjustment_display(self, obj):
        return f"{obj.adjustment_percent:+.2f} %"

    @admin.display(description=_("deductible"))
    def deductible_display(self, obj):
        return _deductible_label(obj.application.clause_version, obj.deductible)

    @admin.display(description=_("riders"))
    def riders_display(self, obj):
        if not obj.rider_codes:
            return "—"
        names = _rider_names(obj.application.clause_version)
        return "、".join(f"{names.get(code, code)} ({code})" for code in obj.rider_codes)

    @admin.display(description=_("quote PDF"), ordering="pdf_status")
    def pdf_status_display(self, obj):
        return obj.get_pdf_status_display()

    @admin.display(description=_("created by"), ordering="created_by__email")
    def created_by_name(self, obj):
        return str(obj.created_by) if obj.created_by_id else gettext("the portal (automatic)")

    @admin.display(description=_("limits"))
    def limits_display(self, obj):
        names = {
            s.get("code"): pick_language(s.get("name"))
            for s in (obj.breakdown or {}).get("sections") or ()
        }
        if not obj.limits:
            return "—"
        return format_html_join(
            "",
            "<div>{}: CNY {}</div>",
            ((names.get(code) or code, amount(value)) for code, value in obj.limits.items()),
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            may_approve = (
                request.user.has_perm(APPROVE_QUOTE) and obj.status == QuoteStatus.PENDING_APPROVAL
            )
            context.update(
                {
                    "quote": obj,
                    "breakdown": obj.breakdown or {},
                    "exclusions": [_exclusion_view(e) for e in obj.special_exclusions or ()],
                    "may_approve": may_approve,
                    "own_quote": obj.created_by_id == request.user.pk,
                    "approve_url": reverse("admin:underwriting_quote_approve", args=[obj.pk]),
                    "reject_url": reverse("admin:underwriting_quote_reject", args=[obj.pk]),
                }
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # -- approval by a senior underwriter --

    def get_urls(self):
        return [
            path(
                "<path:object_id>/approve/",
                self.admin_site.admin_view(self.approve_view),
                name="underwriting_quote_approve",
            ),
            path(
                "<path:object_id>/reject/",
                self.admin_site.admin_view(self.reject_view),
                name="underwriting_quote_reject",
            ),
            *super().get_urls(),
        ]

    def _for_approval(self, request, object_id) -> Quote:
        _require_perm(request, APPROVE_QUOTE)
        quote = self.get_object(request, unquote(object_id))
        if quote is None:
            raise Http404
        return quote

    def _approval_page(self, request, quote, *, title, form, button, intro):
        return TemplateResponse(
            request,
            "admin/underwriting/quote/action.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "quote": quote,
                "form": form,
                "button": button,
                "intro": intro,
                "cancel_url": reverse("admin:underwriting_quote_change", args=[quote.pk]),
            },
        )

    @staticmethod
    def _approve(quote, actor):
        if quote.status != QuoteStatus.PENDING_APPROVAL:
            raise DomainError(
                _("Quote %(number)s is not awaiting approval.") % {"number": quote.number}
            )
        return services.quote_approve(quote=quote, actor=actor)

    def approve_view(self, request, object_id):
        quote = self._for_approval(request, object_id)
        form = ConfirmForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                self._approve(quote, request.user)
            except DomainError as error:
                messages.error(request, error.message)
            else:
                messages.success(
                    request,
                    _("Quote %(number)s is approved and offered to the applicant.")
                    % {"number": quote.number},
                )
                return redirect("admin:underwriting_quote_change", quote.pk)
        return self._approval_page(
            request,
            quote,
            title=_("Approve quote %(number)s") % {"number": quote.number},
            form=form,
            button=_("Yes, approve and offer"),
            intro=_("The applicant receives the quote as soon as you approve it."),
        )

    def reject_view(self, request, object_id):
        quote = self._for_approval(request, object_id)
        form = RejectQuoteForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                services.quote_reject_approval(
                    quote=quote, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except DomainError as error:
                messages.error(request, error.message)
            else:
                messages.success(
                    request,
                    _("Quote %(number)s was not approved.") % {"number": quote.number},
                )
                return redirect("admin:underwriting_quote_change", quote.pk)
        return self._approval_page(
            request,
            quote,
            title=_("Do not approve quote %(number)s") % {"number": quote.number},
            form=form,
            button=_("Reject the quote"),
            intro=_("The application stays with its underwriter, who may set new terms."),
        )

    @admin.action(description=_("Approve selected quotes"), permissions=["approve"])
    def approve_quotes(self, request, queryset):
        return _confirm(
            self,
            request,
            queryset,
            title=_("Approve these quotes? Each is offered to its applicant at once."),
            action="approve_quotes",
            button=_("Yes, approve"),
            apply=lambda quote: self._approve(quote, request.user),
        )

    @admin.action(description=_("Reject selected quote (with a reason)"), permissions=["approve"])
    def reject_quotes(self, request, queryset):
        quotes = list(queryset[:2])
        if len(quotes) != 1:
            self.message_user(
                request, _("Reject quotes one at a time: each needs its reason."), messages.ERROR
            )
            return None
        return redirect("admin:underwriting_quote_reject", quotes[0].pk)


# --- Underwriters' authority ----------------------------------------------------------------------


class UnderwriterAuthorityForm(forms.ModelForm):
    class Meta:
        model = UnderwriterAuthority
        fields = ["user", "max_sum_insured", "max_adjustment_percent"]

    def clean_max_sum_insured(self):
        value = self.cleaned_data["max_sum_insured"]
        if value is not None and value <= 0:
            raise ValidationError(_("The largest sum insured must be above zero."))
        return value

    def clean_max_adjustment_percent(self):
        value = self.cleaned_data["max_adjustment_percent"]
        if value is not None and not Decimal("0") <= value < Decimal("100"):
            raise ValidationError(_("Give a percentage from 0 to below 100."))
        return value


@admin.register(UnderwriterAuthority)
class UnderwriterAuthorityAdmin(HistoryAdmin):
    """Senior underwriters set how far each underwriter may go alone; underwriters look."""

    form = UnderwriterAuthorityForm
    list_display = ["user", "max_sum_insured_display", "max_adjustment_percent"]
    list_select_related = ["user"]
    search_fields = ["user__email", "user__full_name"]
    ordering = ["user__email"]

    @admin.display(description=_("largest sum insured they may quote"), ordering="max_sum_insured")
    def max_sum_insured_display(self, obj):
        return money(obj.max_sum_insured)

    def _own(self, request, obj) -> bool:
        # Nobody raises their own authority.
        return obj is not None and obj.user_id == request.user.pk and not request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return not self._own(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._own(request, obj) and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return ["user"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            users = User.objects.filter(
                is_active=True, is_staff=True, groups__name__in=[UNDERWRITER, SENIOR_UNDERWRITER]
            )
            if not request.user.is_superuser:
                users = users.exclude(pk=request.user.pk)
            kwargs["queryset"] = users.distinct().order_by("email")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- Questionnaires and underwriting rules ---------------------------------------------------


def _questions_table(questions):
    if not questions:
        return "—"
    rows = []
    for number, question in enumerate(questions, start=1):
        options = "；".join(
            f"{o.get('code')}: {pick_language(o.get('label'))}"
            for o in question.get("options") or ()
        )
        limits = " ".join(
            part
            for part in (
                f"≥ {question['min']}" if question.get("min") is not None else "",
                f"≤ {question['max']}" if question.get("max") is not None else "",
                pick_language(question.get("unit")),
            )
            if part
        )
        link = question.get("rating") or {}
        rating = (
            gettext("table %(code)s") % {"code": link["table"]}
            if link.get("table")
            else gettext("input %(code)s") % {"code": link["input"]}
            if link.get("input")
            else ""
        )
        shown = question.get("show_if") or {}
        show_if = f"{shown.get('question')} = {shown.get('equals')}" if shown else ""
        rows.append(
            (
                number,
                question.get("code", ""),
                question.get("kind", ""),
                pick_language(question.get("group")),
                (question.get("label") or {}).get("zh", ""),
                (question.get("label") or {}).get("en", ""),
                options or limits,
                gettext("Yes") if question.get("required", True) else gettext("No"),
                rating,
                show_if,
            )
        )
    header = format_html_join(
        "",
        "<th>{}</th>",
        (
            (label,)
            for label in (
                "#",
                gettext("Code"),
                gettext("Kind"),
                gettext("Group"),
                gettext("Question (Chinese)"),
                gettext("Question (English)"),
                gettext("Options or range"),
                gettext("Required"),
                gettext("Rating"),
                gettext("Shown if"),
            )
        ),
    )
    body = format_html_join(
        "",
        "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        rows,
    )
    return format_html(
        '<table class="questions"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', header, body
    )


class QuestionnaireForm(forms.ModelForm):
    class Meta:
        model = Questionnaire
        fields = ["clause_version", "kind", "questions"]

    def clean_questions(self):
        from underwriting.questionnaires import KINDS

        questions = self.cleaned_data["questions"]
        if not isinstance(questions, list):
            raise ValidationError(_("The questions are a list."))
        codes = set()
        for number, question in enumerate(questions, start=1):
            where = _("Question %(n)d") % {"n": number}
            if not isinstance(question, dict) or not question.get("code"):
                raise ValidationError(_("%(where)s needs a code.") % {"where": where})
            if question["code"] in codes:
                raise ValidationError(
                    _("%(where)s repeats the code %(code)s.")
                    % {"where": where, "code": question["code"]}
                )
            codes.add(question["code"])
            if question.get("kind", "text") not in KINDS:
                raise ValidationError(_("%(where)s has an unknown kind.") % {"where": where})
            if not (question.get("label") or {}).get("zh"):
                raise ValidationError(_("%(where)s needs a Chinese label.") % {"where": where})
        return questions


@admin.register(Questionnaire)
class QuestionnaireAdmin(admin.ModelAdmin):
    """Product managers write the questions of a draft clause version; once the version is
    published its questionnaire is evidence and nobody changes it."""

    form = QuestionnaireForm
    list_display = ["clause_version", "kind", "question_count", "short_hash"]
    list_filter = ["kind", "clause_version__status", "clause_version__product"]
    list_select_related = ["clause_version__product", "clause_version__rider"]
    search_fields = ["clause_version__product__code", "clause_version__label"]
    readonly_fields = ["questions_table", "sha256", "created_at"]

    def _frozen(self, obj) -> bool:
        return obj is not None and obj.clause_version.status == ClauseStatus.PUBLISHED

    def has_change_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_delete_permission(request, obj)

    def get_fields(self, request, obj=None):
        if self._frozen(obj) or not self.has_change_permission(request, obj):
            return ["clause_version", "kind", "questions_table", "sha256", "created_at"]
        return ["clause_version", "kind", "questions", "questions_table", "sha256", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["clause_version", "kind"]
        return fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "clause_version":
            # A published version's questions never change, so none are added to it either.
            kwargs["queryset"] = ClauseVersion.objects.filter(
                status=ClauseStatus.DRAFT
            ).select_related("product", "rider")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        from underwriting.catalogue_loader import questionnaire_sha256

        obj.sha256 = questionnaire_sha256(obj.questions)
        super().save_model(request, obj, form, change)

    @admin.display(description=_("questions"))
    def question_count(self, obj):
        return len(obj.questions or ())

    @admin.display(description=_("SHA-256"))
    def short_hash(self, obj):
        return obj.sha256[:12] if obj.sha256 else "—"

    @admin.display(description=_("questions as asked"))
    def questions_table(self, obj):
        return _questions_table(obj.questions if obj else [])


def _conditions_text(conditions) -> str:
    parts = []
    for condition in conditions or ():
        if not isinstance(condition, dict):
            parts.append(str(condition))
            continue
        op = condition.get("op", "eq")
        text = f"{condition.get('fact')} {OPERATOR_TEXT.get(op, op)}"
        if op not in ("truthy", "falsy"):
            value = condition.get("value")
            text += " " + (", ".join(map(str, value)) if isinstance(value, list) else str(value))
        parts.append(text)
    return f" {gettext('and')} ".join(parts) or "—"


class UnderwritingRuleForm(forms.ModelForm):
    class Meta:
        model = UnderwritingRule
        fields = [
            "product",
            "code",
            "position",
            "outcome",
            "conditions",
            "reason_zh",
            "reason_en",
            "exclusion",
            "active",
        ]

    def clean(self):
        data = super().clean()
        conditions = data.get("conditions")
        if conditions is None or "outcome" not in data:
            return data
        if not isinstance(conditions, list) or not all(isinstance(c, dict) for c in conditions):
            raise ValidationError(
                {"conditions": _('A list of conditions: [{"fact": …, "op": …, "value": …}].')}
            )
        try:
            rules.validate_rule(
                rules.Rule(
                    code=data.get("code") or "",
                    outcome=data["outcome"],
                    conditions=tuple(conditions),
                    exclusion=data.get("exclusion") or {},
                )
            )
        except rules.RuleError as error:
            raise ValidationError(str(error)) from None
        return data


@admin.register(UnderwritingRule)
class UnderwritingRuleAdmin(HistoryAdmin):
    form = UnderwritingRuleForm
    list_display = ["product_code", "code", "outcome", "active", "conditions_display"]
    list_filter = ["product", "outcome", "active"]
    list_select_related = ["product"]
    search_fields = ["code", "product__code", "reason_zh", "reason_en"]
    readonly_fields = ["conditions_display"]
    ordering = ["product__code", "position", "code"]

    @admin.display(description=_("product"), ordering="product__code")
    def product_code(self, obj):
        return obj.product.code

    @admin.display(description=_("conditions (all must hold)"))
    def conditions_display(self, obj):
        return _conditions_text(obj.conditions if obj else [])


# =============================================================================================
# Policies, their instalments and payments, and the exclusion acknowledgements. Everything here
# reads; the writes — booking a bank transfer, endorsing, cancelling on the insurer's behalf — go
# through ``services.payment_record``, ``services.policy_endorse`` and ``services.policy_cancel``.
# =============================================================================================

ADD_PAYMENT = "underwriting.add_payment"
ADD_ENDORSEMENT = "underwriting.add_endorsement"
ADD_CANCELLATION = "underwriting.add_cancellation"
VIEW_POLICY_DOCUMENT = "underwriting.view_policydocument"
# Statuses in which a policy still takes payments (as ``services.payment_record`` decides).
PAYABLE_STATUSES = (PolicyStatus.AWAITING_PAYMENT, PolicyStatus.ISSUED, PolicyStatus.IN_FORCE)
# As ``services.policy_endorse`` and ``services.policy_cancel`` decide.
ENDORSABLE_STATUSES = (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE)
CANCELLABLE_STATUSES = (PolicyStatus.AWAITING_PAYMENT, PolicyStatus.ISSUED, PolicyStatus.IN_FORCE)
# Evidence is shown in China time whatever the server's settings are.
SHANGHAI = ZoneInfo("Asia/Shanghai")
HISTORY_ROWS = 50


class ReadOnlyAdminMixin:
    """Shown to staff with the view permission; nobody adds, changes or deletes here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _shanghai(moment) -> str:
    if not moment:
        return "—"
    return timezone.localtime(moment, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def _parse_moment(value):
    """A tick time as stored (ISO 8601 text) as an aware datetime, or None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _policy_label(policy) -> str:
    """The policy number, or "awaiting payment" before it is issued (no query)."""
    return policy.number or gettext("awaiting payment")


def _policy_link(policy):
    url = reverse("admin:underwriting_policy_change", args=[policy.pk])
    return format_html('<a href="{}">{}</a>', url, _policy_label(policy))


def _asset_kind_label(kind) -> str:
    try:
        return str(AssetKind(kind).label)
    except ValueError:
        return str(kind or "")


def _terms_view(policy) -> dict:
    """The terms snapshot of the policy, labelled for reading."""
    terms = policy.terms or {}
    version = policy.clause_version
    sections = {
        section.get("code"): pick_language(section.get("name"))
        for section in (terms.get("breakdown") or {}).get("sections") or ()
    }
    rider_names = _rider_names(version) if terms.get("riders") else {}
    return {
        "product": terms.get("product") or {},
        "clause": terms.get("clause_version") or {},
        "insured": [
            {
                "kind": _asset_kind_label(item.get("kind")),
                "number": item.get("number") or "",
                "title": item.get("title") or "",
            }
            for item in terms.get("insured") or ()
        ],
        "limits": [
            {"code": code, "name": sections.get(code) or code, "limit": value}
            for code, value in (terms.get("limits") or {}).items()
        ],
        "deductible": _deductible_label(version, terms.get("deductible") or ""),
        "address": terms.get("firm_address") or "",
        "riders": [
            {"code": code, "name": rider_names.get(code, code)}
            for code in terms.get("riders") or ()
        ],
        "insurers": [
            {
                "code": insurer.get("code", ""),
                "name": pick_language(insurer),
                "share": insurer.get("share"),
            }
            for insurer in terms.get("insurers") or ()
        ],
        "exclusions": [
            {
                "key": exclusion.get("key", ""),
                "source": pick_language(exclusion.get("source")),
                "title": pick_language(exclusion.get("title")),
                "text": pick_language(exclusion.get("text")),
                "explanation": pick_language(exclusion.get("explanation")),
            }
            for exclusion in terms.get("exclusions") or ()
        ],
    }


def _tick_rows(acknowledgement) -> list[dict]:
    rows = []
    for item in acknowledgement.items or ():
        title = item.get("title") or {}
        stored = item.get("ticked_at")
        moment = _parse_moment(stored)
        rows.append(
            {
                "key": item.get("key", ""),
                "title": pick_language(title),
                "title_zh": title.get("zh", "") if isinstance(title, dict) else str(title),
                "title_en": title.get("en", "") if isinstance(title, dict) else "",
                # An unreadable stored time is shown as stored, never hidden.
                "ticked_at": _shanghai(moment) if moment else str(stored or ""),
                "ticked": bool(stored),
            }
        )
    return rows


def _text_hash_matches(acknowledgement) -> bool:
    digest = hashlib.sha256((acknowledgement.notice_text or "").encode("utf-8")).hexdigest()
    return digest == acknowledgement.text_sha256


# --- Filters ------------------------------------------------------------------------------------


class _YearFilter(admin.SimpleListFilter):
    """The years present in the table: one query, whatever the number of policies."""

    field = ""

    def lookups(self, request, model_admin):
        years = Policy.objects.dates(self.field, "year", order="DESC")
        return [(str(day.year), str(day.year)) for day in years]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            year = int(self.value())
        except ValueError:
            return queryset.none()
        return queryset.filter(**{f"{self.field}__year": year})


class StartYearFilter(_YearFilter):
    title = _("cover starts (year)")
    parameter_name = "start_year"
    field = "start_date"


class EndYearFilter(_YearFilter):
    title = _("cover ends (year)")
    parameter_name = "end_year"
    field = "end_date"


def _overdue_instalments():
    return Instalment.objects.filter(
        policy=OuterRef("pk"),
        status=InstalmentStatus.DUE,
        due_date__lt=timezone.localdate(),
    )


class OverdueFilter(admin.SimpleListFilter):
    title = _("instalment overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Overdue")), ("no", _("Not overdue"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(Exists(_overdue_instalments()))
        if self.value() == "no":
            return queryset.filter(~Exists(_overdue_instalments()))
        return queryset


# --- Policies ----------------------------------------------------------------------------------


class BankTransferForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount received (CNY)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=_("One instalment at a time: the amount of the next instalment due."),
    )
    reference = forms.CharField(
        label=_("Bank reference"),
        max_length=100,
        help_text=_("As on the bank statement. The same reference is never booked twice."),
    )
    received_at = forms.DateTimeField(
        label=_("Received at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("China time, as on the bank statement."),
    )

    def clean_received_at(self):
        value = self.cleaned_data["received_at"]
        if value > timezone.now() + timedelta(minutes=5):
            raise ValidationError(_("The money cannot have been received in the future."))
        return value


def _as_decimal(value) -> Decimal | None:
    """A stored or typed amount as a Decimal ("150,000" and "150000.00" alike), or None."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _insured_label(item: dict) -> str:
    """An insured right as the terms snapshot keeps it: "Patent ZL2021… · Title"."""
    head = " ".join(p for p in (_asset_kind_label(item.get("kind")), item.get("number")) if p)
    return " · ".join(p for p in (head, item.get("title") or "") if p)


def _asset_label(asset) -> str:
    return _insured_label({"kind": asset.kind, "number": asset.number, "title": asset.title})


def _policy_address(policy) -> str:
    """The address on the policy: the one endorsed last, else the firm's registered one."""
    return (policy.terms or {}).get("firm_address") or policy.firm.address or ""


class AmountField(forms.DecimalField):
    """An amount typed with or without thousands separators ("150,000"), shown with them."""

    widget = forms.TextInput(attrs={"inputmode": "decimal", "size": 16})

    def to_python(self, value):
        if isinstance(value, str):
            value = value.replace(",", "").replace("，", "").replace(" ", "").strip()
        return super().to_python(value)

    def prepare_value(self, value):
        return value if value in (None, "") else amount(value)


class EndorsementForm(forms.Form):
    """A change during the period: limits per cover section of the policy's clause version, rights
    added or removed, a new address. The limits start as the policy has them."""

    effective_date = forms.DateField(
        label=_("Effective from"),
        # An <input type="date"> only takes ISO dates, whatever the language.
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        help_text=_(
            "Within the policy period. The premium changes pro rata for the days from this date "
            "to the end of the period."
        ),
    )
    address = forms.CharField(
        label=_("New address"),
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"size": 80}),
    )

    def __init__(self, *args, policy, sections, addable, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy
        self.sections = list(sections)
        terms = policy.terms or {}
        self.current_limits = dict(terms.get("limits") or {})
        self.insured = list(terms.get("insured") or ())
        self.current_address = _policy_address(policy)
        today = timezone.localdate()
        self.initial.setdefault(
            "effective_date", min(max(today, policy.start_date), policy.end_date)
        )
        self.fields["effective_date"].widget.attrs.update(
            min=policy.start_date.isoformat(), max=policy.end_date.isoformat()
        )
        for section in self.sections:
            self.fields[f"limit_{section.code}"] = self._limit_field(section)
        if addable:
            self.fields["add_assets"] = forms.TypedMultipleChoiceField(
                label=_("Rights to add"),
                required=False,
                coerce=int,
                choices=[(asset.pk, _asset_label(asset)) for asset in addable],
                widget=forms.CheckboxSelectMultiple,
                help_text=_(
                    "Rights of the firm of the kinds this product covers, not insured yet."
                ),
            )
        if self.insured:
            self.fields["remove_assets"] = forms.TypedMultipleChoiceField(
                label=_("Rights to remove"),
                required=False,
                coerce=int,
                choices=[(item["id"], _insured_label(item)) for item in self.insured],
                widget=forms.CheckboxSelectMultiple,
                help_text=_("Rights insured now. At least one right stays insured."),
            )
        self.fields["address"].help_text = _(
            "Leave empty to keep the address on the policy: %(address)s"
        ) % {"address": self.current_address or "—"}
        self.order_fields(
            [
                "effective_date",
                *[f"limit_{section.code}" for section in self.sections],
                "add_assets",
                "remove_assets",
                "address",
            ]
        )

    def _limit_field(self, section):
        label = _("Limit: %(section)s") % {"section": section.name}
        help_text = _("Per insured right.") if section.per_item else ""
        stored = self.current_limits.get(section.code)
        if section.limit_options:
            options = [str(option) for option in section.limit_options]
            current = next(
                (o for o in options if _as_decimal(o) == _as_decimal(stored)),
                None,
            )
            choices = [("", gettext("Not included"))]
            choices += [(option, amount(option)) for option in options]
            if current is None and _as_decimal(stored) is not None:
                # A limit set by an underwriter outside the options stays selectable.
                current = str(stored)
                choices.append(
                    (current, gettext("%(amount)s (current)") % {"amount": amount(stored)})
                )
            self.initial.setdefault(f"limit_{section.code}", current or "")
            return forms.ChoiceField(
                label=label, required=False, choices=choices, help_text=help_text
            )
        self.initial.setdefault(f"limit_{section.code}", _as_decimal(stored))
        return AmountField(
            label=label,
            required=False,
            min_value=Decimal("0.01"),
            max_digits=14,
            decimal_places=2,
            help_text=help_text,
        )

    def clean_effective_date(self):
        value = self.cleaned_data["effective_date"]
        if not self.policy.start_date <= value <= self.policy.end_date:
            raise ValidationError(
                _("The change must take effect within the policy period, %(start)s – %(end)s.")
                % {
                    "start": f"{self.policy.start_date:%Y-%m-%d}",
                    "end": f"{self.policy.end_date:%Y-%m-%d}",
                }
            )
        return value

    def clean_address(self):
        value = self.cleaned_data["address"].strip()
        return "" if value == self.current_address.strip() else value

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if self.sections and not self.new_limits_or_current():
            raise ValidationError(_("Enter a limit for at least one cover section."))
        kept = {item["id"] for item in self.insured} - set(data.get("remove_assets") or ())
        if not kept and not data.get("add_assets"):
            raise ValidationError(_("A policy needs at least one insured right."))
        if not (
            self.new_limits()
            or data.get("add_assets")
            or data.get("remove_assets")
            or data.get("address")
        ):
            raise ValidationError(
                _(
                    "Nothing to change: choose another limit, add or remove a right, or enter "
                    "a new address."
                )
            )
        return data

    def new_limits_or_current(self) -> dict:
        limits = {}
        for section in self.sections:
            value = self.cleaned_data.get(f"limit_{section.code}")
            if value not in (None, ""):
                limits[section.code] = str(value)
        return limits

    def new_limits(self) -> dict | None:
        """The limits to endorse, or None when they stay as they are."""
        limits = self.new_limits_or_current()
        return limits if limits and _limits_differ(self.current_limits, limits) else None

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "effective_date": data["effective_date"],
            "limits": self.new_limits(),
            "add_asset_ids": list(data.get("add_assets") or ()),
            "remove_asset_ids": list(data.get("remove_assets") or ()),
            "address": data.get("address") or None,
        }


class InsurerCancellationForm(forms.Form):
    """The insurer's notice of cancellation: it takes effect 15 days after the notice date."""

    notice_date = forms.DateField(
        label=_("Notice date"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        help_text=_("The day the notice is given. The cancellation takes effect 15 days later."),
    )
    reason = forms.CharField(
        label=_("Reason for the cancellation"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text=_("The policyholder receives it with the notice: write plainly."),
    )

    def __init__(self, *args, policy, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy
        self.initial.setdefault("notice_date", timezone.localdate())

    def clean_notice_date(self):
        value = self.cleaned_data["notice_date"]
        if value < timezone.localdate():
            # The policyholder hears of it now: an earlier date would shorten the notice.
            raise ValidationError(_("The notice cannot be dated before today."))
        if refunds.insurer_cancellation_effective_date(value) > self.policy.end_date:
            raise ValidationError(
                _(
                    "The notice period would run past the end of the policy (%(end)s): it "
                    "ends anyway."
                )
                % {"end": f"{self.policy.end_date:%Y-%m-%d}"}
            )
        return value

    def effective_date(self):
        return refunds.insurer_cancellation_effective_date(self.cleaned_data["notice_date"])


REFUND_BASIS = {
    "pro_rata": _("Pro rata by the days on risk (the insurer cancels)"),
    "short_rate": _("Short-period table (the policyholder cancels after cover started)"),
    "before_start": _("Before cover started: the cancellation fee is kept"),
}


def _refund_rows(explanation) -> list[dict]:
    """A refund explanation (``services.cancellation_quote``) line by line, for reading."""
    if not explanation:
        return []
    rows = [
        {
            "label": gettext("Basis"),
            "value": str(REFUND_BASIS.get(explanation.get("basis"), explanation.get("basis"))),
        },
        {"label": gettext("Effective date"), "value": explanation.get("effective_date") or "—"},
    ]
    if explanation.get("days_on_risk") is not None:
        rows.append(
            {
                "label": gettext("Days on risk"),
                "value": gettext("%(days)s of %(period)s days")
                % {
                    "days": explanation["days_on_risk"],
                    "period": explanation.get("days_in_period") or "—",
                },
            }
        )
    if explanation.get("months_on_risk") is not None:
        rows.append(
            {"label": gettext("Months on risk"), "value": str(explanation["months_on_risk"])}
        )
    if explanation.get("percent_kept"):
        rows.append(
            {
                "label": gettext("Share of the premium kept"),
                "value": f"{plain_number(explanation['percent_kept'])} %",
            }
        )

    def cny(key):
        return f"CNY {money(explanation.get(key))}" if explanation.get(key) is not None else "—"

    rows += [
        {"label": gettext("Annual premium"), "value": cny("premium")},
        {"label": gettext("Premium earned by the insurer"), "value": cny("kept")},
        {"label": gettext("Refund before payments are counted"), "value": cny("computed_refund")},
        {"label": gettext("Paid so far"), "value": cny("paid")},
        {
            "label": gettext("Refund (never more than was paid)"),
            "value": cny("refund"),
            "strong": True,
        },
    ]
    if (_as_decimal(explanation.get("amount_owed")) or 0) > 0:
        rows.append(
            {
                "label": gettext("Still owed by the policyholder"),
                "value": cny("amount_owed"),
                "strong": True,
            }
        )
    return rows


def _preview_digest(explanation: dict) -> str:
    """A fingerprint of the figures previewed, so that a confirmation never books other ones."""
    text = json.dumps(explanation, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _premium_change(change) -> dict:
    change = change or Decimal("0")
    if change > 0:
        kind = gettext("Additional premium")
    elif change < 0:
        kind = gettext("Return premium")
    else:
        kind = gettext("No change in premium")
    return {"kind": kind, "amount": money(abs(change)) if change else "", "sign": change}


def _endorsement_rows(policy, endorsements) -> list[dict]:
    """Each endorsement with its changes in words: rights by name, limits old → new."""
    sections = _section_names(policy.clause_version)
    labels = {}
    for terms in (policy.terms, *(e.previous_terms for e in endorsements)):
        for item in (terms or {}).get("insured") or ():
            labels.setdefault(item.get("id"), _insured_label(item))
    wanted = {
        i
        for e in endorsements
        for key in ("added", "removed")
        for i in (e.changes or {}).get(key) or ()
        if i not in labels
    }
    for asset in IPAsset.objects.filter(pk__in=wanted):
        labels[asset.pk] = _asset_label(asset)
    not_included = gettext("Not included")
    rows = []
    for endorsement in endorsements:
        changes = endorsement.changes or {}
        lines = []
        for key, text in (
            ("added", gettext("Rights added: %(rights)s")),
            ("removed", gettext("Rights removed: %(rights)s")),
        ):
            if changes.get(key):
                names = "、".join(labels.get(i, f"#{i}") for i in changes[key])
                lines.append(text % {"rights": names})
        if "limits" in changes:
            old = (endorsement.previous_terms or {}).get("limits") or {}
            new = changes.get("limits") or {}
            parts = []
            for code in dict.fromkeys([*old, *new]):
                if _as_decimal(old.get(code)) == _as_decimal(new.get(code)):
                    continue
                name = sections[code].name if code in sections else code
                before = amount(old[code]) if old.get(code) else not_included
                after = amount(new[code]) if new.get(code) else not_included
                parts.append(f"{name} {before} → {after}")
            lines.append(
                gettext("Limits: %(changes)s") % {"changes": "; ".join(parts) or not_included}
            )
        if "address" in changes:
            lines.append(gettext("Address: %(address)s") % {"address": changes["address"]})
        rows.append(
            {
                "endorsement": endorsement,
                "changes": lines,
                "premium": _premium_change(endorsement.premium_change),
            }
        )
    return rows


@admin.register(Policy)
class PolicyAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    """Policies as issued, read-only. Underwriters book bank transfers from here; senior
    underwriters endorse a policy and cancel it on the insurer's behalf."""

    list_display = [
        "number_display",
        "firm_name",
        "product_code",
        "status",
        "period",
        "premium_display",
        "remaining_display",
        "next_due_display",
        "issued_at",
    ]
    list_display_links = ["number_display"]
    list_filter = ["status", "product", StartYearFilter, EndYearFilter, OverdueFilter]
    list_select_related = ["firm", "product"]
    search_fields = ["number", "firm__name_zh", "firm__name_en", "firm__uscc"]
    search_help_text = _("Policy number, firm name or USCC.")
    ordering = ["-created_at", "-id"]
    change_form_template = "admin/underwriting/policy/change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "number_display",
                    "status",
                    "version",
                    "firm_display",
                    "product_display",
                    "clause_version",
                    "quote_link",
                    "application_link",
                    "verification_code",
                ]
            },
        ),
        (
            _("Cover and premium"),
            {
                "fields": [
                    "period",
                    "premium_display",
                    "sum_insured_display",
                    "remaining_display",
                ]
            },
        ),
        (_("Dates"), {"fields": ["created_at", "issued_at", "status_changed_at"]}),
    ]
    readonly_fields = [
        "number_display",
        "status",
        "version",
        "firm_display",
        "product_display",
        "clause_version",
        "quote_link",
        "application_link",
        "verification_code",
        "period",
        "premium_display",
        "sum_insured_display",
        "remaining_display",
        "created_at",
        "issued_at",
        "status_changed_at",
    ]

    def get_queryset(self, request):
        due = Instalment.objects.filter(
            policy=OuterRef("pk"), status=InstalmentStatus.DUE
        ).order_by("due_date", "sequence")
        return (
            super()
            .get_queryset(request)
            .select_related("firm", "product")
            .annotate(
                next_due=Subquery(due.values("due_date")[:1]),
                next_due_amount=Subquery(due.values("amount")[:1]),
            )
        )

    # -- columns --

    @admin.display(description=_("policy number"), ordering="number")
    def number_display(self, obj):
        return _policy_label(obj)

    @admin.display(description=_("firm"), ordering="firm__name_zh")
    def firm_name(self, obj):
        return obj.firm.name

    @admin.display(description=_("firm"))
    def firm_display(self, obj):
        return f"{obj.firm.name} ({obj.firm.uscc})"

    @admin.display(description=_("product"), ordering="product__code")
    def product_code(self, obj):
        return obj.product.code

    @admin.display(description=_("product"))
    def product_display(self, obj):
        return f"{obj.product.code} · {obj.product.name}"

    @admin.display(description=_("period of cover"), ordering="start_date")
    def period(self, obj):
        return f"{obj.start_date:%Y-%m-%d} – {obj.end_date:%Y-%m-%d}"

    @admin.display(description=_("annual premium (CNY)"), ordering="premium")
    def premium_display(self, obj):
        return money(obj.premium)

    @admin.display(description=_("sum insured (CNY)"), ordering="sum_insured")
    def sum_insured_display(self, obj):
        return money(obj.sum_insured)

    @admin.display(description=_("remaining sum insured (CNY)"), ordering="remaining_sum_insured")
    def remaining_display(self, obj):
        return money(obj.remaining_sum_insured)

    @admin.display(description=_("next instalment due"), ordering="next_due")
    def next_due_display(self, obj):
        due = getattr(obj, "next_due", None)
        if due is None:
            return "—"
        text = f"{due:%Y-%m-%d} · CNY {money(obj.next_due_amount)}"
        if due < timezone.localdate():
            return format_html(
                '<strong class="uw-overdue">{} ({})</strong>', text, gettext("overdue")
            )
        return text

    @admin.display(description=_("quote"))
    def quote_link(self, obj):
        url = reverse("admin:underwriting_quote_change", args=[obj.quote_id])
        return format_html('<a href="{}">{}</a>', url, obj.quote.number)

    @admin.display(description=_("application"))
    def application_link(self, obj):
        url = reverse("admin:underwriting_application_change", args=[obj.application_id])
        return format_html('<a href="{}">{}</a>', url, obj.application.reference)

    # -- the policy page --

    def _next_instalment(self, policy):
        if policy.status not in PAYABLE_STATUSES:
            return None
        return policy.instalments.filter(status=InstalmentStatus.DUE).order_by("sequence").first()

    def _may_record_payment(self, request, policy) -> bool:
        return request.user.has_perm(ADD_PAYMENT) and self._next_instalment(policy) is not None

    @staticmethod
    def _cancellation(policy):
        return Cancellation.objects.filter(policy=policy).select_related("requested_by").first()

    @staticmethod
    def _endorse_refusal(policy, cancellation) -> str:
        """Why the policy cannot be endorsed now, or "" when it can."""
        if policy.status not in ENDORSABLE_STATUSES:
            return gettext("Only an issued policy can be endorsed.")
        if cancellation is not None:
            return gettext("This policy is being cancelled; it can no longer be endorsed.")
        return ""

    @staticmethod
    def _cancel_refusal(policy, cancellation) -> str:
        """Why the insurer cannot cancel the policy now, or "" when it can."""
        if cancellation is not None:
            return gettext("This policy is already being cancelled.")
        if policy.status not in CANCELLABLE_STATUSES:
            return gettext("This policy can no longer be cancelled.")
        return ""

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self._detail_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _detail_context(self, request, policy) -> dict:
        acknowledgement = Acknowledgement.objects.select_related("user", "quote").get(
            pk=policy.acknowledgement_id
        )
        may_download = request.user.has_perm(VIEW_POLICY_DOCUMENT)
        documents = [
            {
                "document": document,
                "url": (
                    reverse("admin:underwriting_policy_document", args=[policy.pk, document.pk])
                    if may_download and document.status == DocumentStatus.READY and document.file
                    else ""
                ),
            }
            for document in policy.documents.all()
        ]
        cancellation = self._cancellation(policy)
        endorsements = list(policy.endorsements.select_related("created_by").order_by("version"))
        return {
            "policy": policy,
            "terms": _terms_view(policy),
            "instalments": list(policy.instalments.all()),
            "payments": list(policy.payments.select_related("instalment", "recorded_by")),
            "documents": documents,
            "acknowledgement": acknowledgement,
            "acknowledgement_complete": services.acknowledgement_is_complete(
                acknowledgement, acknowledgement.quote
            ),
            "acknowledgement_url": reverse(
                "admin:underwriting_acknowledgement_change", args=[acknowledgement.pk]
            ),
            "acknowledgement_print_url": reverse(
                "admin:underwriting_acknowledgement_print", args=[acknowledgement.pk]
            ),
            "history": list(
                policy.history.select_related("history_user").order_by("-history_date")[
                    :HISTORY_ROWS
                ]
            ),
            "may_record_payment": self._may_record_payment(request, policy),
            "record_payment_url": reverse(
                "admin:underwriting_policy_record_payment", args=[policy.pk]
            ),
            "endorsements": _endorsement_rows(policy, endorsements),
            "may_endorse": request.user.has_perm(ADD_ENDORSEMENT)
            and not self._endorse_refusal(policy, cancellation),
            "endorse_url": reverse("admin:underwriting_policy_endorse", args=[policy.pk]),
            "cancellation": cancellation,
            "cancellation_rows": _refund_rows(cancellation.explanation if cancellation else None),
            "may_cancel": request.user.has_perm(ADD_CANCELLATION)
            and not self._cancel_refusal(policy, cancellation),
            "insurer_cancel_url": reverse("admin:underwriting_policy_cancel", args=[policy.pk]),
            "today": timezone.localdate(),
        }

    def get_urls(self):
        return [
            path(
                "<path:object_id>/record-payment/",
                self.admin_site.admin_view(self.record_payment_view),
                name="underwriting_policy_record_payment",
            ),
            path(
                "<path:object_id>/endorse/",
                self.admin_site.admin_view(self.endorse_view),
                name="underwriting_policy_endorse",
            ),
            path(
                "<path:object_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="underwriting_policy_cancel",
            ),
            path(
                "<path:object_id>/documents/<id:document_id>/",
                self.admin_site.admin_view(self.document_view),
                name="underwriting_policy_document",
            ),
            *super().get_urls(),
        ]

    def _viewable(self, request, object_id) -> Policy:
        policy = self.get_object(request, unquote(object_id))
        if policy is None:
            raise Http404
        if not self.has_view_permission(request, policy):
            raise Forbidden
        return policy

    def record_payment_view(self, request, object_id):
        """Book a bank transfer found on reconciliation: the next instalment due, in full."""
        _require_perm(request, ADD_PAYMENT)
        policy = self._viewable(request, object_id)
        change_url = reverse("admin:underwriting_policy_change", args=[policy.pk])
        instalment = self._next_instalment(policy)
        if instalment is None:
            messages.warning(request, _("Nothing is due on this policy."))
            return redirect(change_url)
        form = BankTransferForm(
            request.POST if request.method == "POST" else None,
            initial={
                "amount": instalment.amount,
                "received_at": timezone.localtime().replace(second=0, microsecond=0),
            },
        )
        if request.method == "POST" and form.is_valid():
            was_awaiting = policy.status == PolicyStatus.AWAITING_PAYMENT
            try:
                payment = services.payment_record(
                    policy=policy,
                    actor=request.user,
                    amount=form.cleaned_data["amount"],
                    reference=form.cleaned_data["reference"],
                    method=PaymentMethod.BANK_TRANSFER,
                    received_at=form.cleaned_data["received_at"],
                )
            except DomainError as error:
                messages.error(request, error.message)
            else:
                policy.refresh_from_db()
                params = {
                    "amount": money(payment.amount),
                    "reference": payment.reference,
                    "number": policy.number or "",
                }
                if was_awaiting and policy.number:
                    messages.success(
                        request,
                        _(
                            "Bank transfer %(reference)s of CNY %(amount)s recorded: policy "
                            "%(number)s is issued."
                        )
                        % params,
                    )
                else:
                    messages.success(
                        request,
                        _("Bank transfer %(reference)s of CNY %(amount)s recorded on %(policy)s.")
                        % {**params, "policy": _policy_label(policy)},
                    )
                return redirect(change_url)
        return TemplateResponse(
            request,
            "admin/underwriting/policy/record_payment.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": _("Record a bank transfer"),
                "policy": policy,
                "policy_label": policy.number or str(policy),
                "instalment": instalment,
                "instalment_count": policy.instalments.count(),
                "form": form,
                "cancel_url": change_url,
            },
        )

    def _action_page(self, request, policy, template, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "policy": policy,
                "policy_label": policy.number or str(policy),
                "cancel_url": reverse("admin:underwriting_policy_change", args=[policy.pk]),
                **context,
            },
        )

    def endorse_view(self, request, object_id):
        """Change an issued policy during its period: limits, rights, address. The service
        prices the change pro rata, makes a new version and queues its document."""
        _require_perm(request, ADD_ENDORSEMENT)
        policy = self._viewable(request, object_id)
        change_url = reverse("admin:underwriting_policy_change", args=[policy.pk])
        refusal = self._endorse_refusal(policy, self._cancellation(policy))
        if refusal:
            messages.warning(request, refusal)
            return redirect(change_url)
        insured_ids = [item.get("id") for item in (policy.terms or {}).get("insured") or ()]
        addable = (
            IPAsset.objects.filter(firm=policy.firm, kind__in=list(policy.product.ip_types or ()))
            .exclude(pk__in=insured_ids)
            .order_by("kind", "number", "pk")
        )
        form = EndorsementForm(
            request.POST if request.method == "POST" else None,
            policy=policy,
            sections=policy.clause_version.rating_sections.all(),
            addable=list(addable),
        )
        if request.method == "POST" and form.is_valid():
            try:
                endorsement = services.policy_endorse(
                    policy=policy, actor=request.user, **form.service_arguments()
                )
            except DomainError as error:
                messages.error(request, error.message)
            else:
                policy.refresh_from_db()
                change = endorsement.premium_change
                if change > 0:
                    due = (
                        policy.instalments.filter(status=InstalmentStatus.DUE, amount=change)
                        .order_by("-sequence")
                        .first()
                    )
                    premium = gettext("Additional premium CNY %(amount)s, due on %(due)s.") % {
                        "amount": money(change),
                        "due": f"{due.due_date:%Y-%m-%d}" if due else "—",
                    }
                elif change < 0:
                    premium = gettext("Return premium CNY %(amount)s.") % {"amount": money(-change)}
                else:
                    premium = gettext("No change in premium.")
                messages.success(
                    request,
                    gettext(
                        "Policy %(number)s endorsed: version %(version)d from %(date)s. "
                        "%(premium)s The document of version %(version)d is being prepared."
                    )
                    % {
                        "number": _policy_label(policy),
                        "version": endorsement.version,
                        "date": f"{endorsement.effective_date:%Y-%m-%d}",
                        "premium": premium,
                    },
                )
                return redirect(change_url)
        return self._action_page(
            request,
            policy,
            "admin/underwriting/policy/endorse.html",
            title=_("Endorse the policy"),
            form=form,
            terms=_terms_view(policy),
            address=_policy_address(policy),
        )

    def cancel_view(self, request, object_id):
        """The insurer cancels on 15 days' notice. A first POST previews the refund; a second
        with ``confirmed=yes`` gives the notice. The reason goes to the policyholder."""
        _require_perm(request, ADD_CANCELLATION)
        policy = self._viewable(request, object_id)
        change_url = reverse("admin:underwriting_policy_change", args=[policy.pk])
        refusal = self._cancel_refusal(policy, self._cancellation(policy))
        if refusal:
            messages.warning(request, refusal)
            return redirect(change_url)
        posted = request.method == "POST"
        form = InsurerCancellationForm(request.POST if posted else None, policy=policy)
        preview = digest = None
        if posted and "edit" not in request.POST and form.is_valid():
            notice_date = form.cleaned_data["notice_date"]
            try:
                preview = services.cancellation_quote(
                    policy, by=CancellationParty.INSURER, effective_date=form.effective_date()
                )
            except refunds.RefundError as error:
                messages.error(
                    request,
                    gettext(
                        "The refund cannot be computed for this policy (%(error)s). Have its "
                        "payments checked first."
                    )
                    % {"error": error},
                )
            else:
                digest = _preview_digest(preview)
                shown = request.POST.get("preview_digest")
                if request.POST.get("confirmed") == "yes" and shown and shown != digest:
                    messages.warning(
                        request,
                        gettext(
                            "The figures changed since the preview (a payment or an endorsement "
                            "was booked meanwhile). Check them again before confirming."
                        ),
                    )
                elif request.POST.get("confirmed") == "yes":
                    try:
                        cancellation = services.policy_cancel(
                            policy=policy,
                            actor=request.user,
                            by=CancellationParty.INSURER,
                            reason=form.cleaned_data["reason"],
                            notice_date=notice_date,
                        )
                    except (DomainError, refunds.RefundError) as error:
                        messages.error(request, getattr(error, "message", str(error)))
                        preview = None
                    else:
                        messages.success(
                            request,
                            gettext(
                                "Notice of cancellation given for %(policy)s: it takes effect on "
                                "%(date)s; refund CNY %(refund)s. The policyholder is told the "
                                "reason."
                            )
                            % {
                                "policy": _policy_label(policy),
                                "date": f"{cancellation.effective_date:%Y-%m-%d}",
                                "refund": money(cancellation.refund),
                            },
                        )
                        return redirect(change_url)
        return self._action_page(
            request,
            policy,
            "admin/underwriting/policy/cancel.html",
            title=_("Cancel on the insurer's behalf"),
            form=form,
            preview=preview,
            preview_rows=_refund_rows(preview),
            preview_digest=digest,
            notice_date=form.cleaned_data.get("notice_date") if preview else None,
            effective_date=form.effective_date() if preview else None,
            reason=form.cleaned_data.get("reason") if preview else "",
            notice_days=refunds.INSURER_NOTICE_DAYS,
        )

    def document_view(self, request, object_id, document_id):
        """The policy document as a download, for staff who may read policy documents."""
        _require_perm(request, VIEW_POLICY_DOCUMENT)
        policy = self._viewable(request, object_id)
        document = get_object_or_404(PolicyDocument, pk=document_id, policy=policy)
        if document.status != DocumentStatus.READY or not document.file:
            raise Http404
        try:
            handle = document.file.open("rb")
        except (FileNotFoundError, OSError):
            raise Http404 from None
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=f"{policy.number or f'policy-{policy.pk}'}-v{document.version}.pdf",
            content_type="application/pdf",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


# --- Instalments and payments --------------------------------------------------------------------


@admin.register(Instalment)
class InstalmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "policy_display",
        "firm_name",
        "sequence",
        "due_date",
        "amount_display",
        "status",
        "paid_at",
    ]
    list_filter = ["status", ("due_date", admin.DateFieldListFilter)]
    list_select_related = ["policy__firm"]
    search_fields = [
        "policy__number",
        "policy__firm__name_zh",
        "policy__firm__name_en",
        "policy__firm__uscc",
    ]
    ordering = ["due_date", "policy_id", "sequence"]
    fields = ["policy_display", "sequence", "due_date", "amount_display", "status", "paid_at"]
    readonly_fields = fields

    @admin.display(description=_("policy"), ordering="policy__number")
    def policy_display(self, obj):
        return _policy_link(obj.policy)

    @admin.display(description=_("firm"), ordering="policy__firm__name_zh")
    def firm_name(self, obj):
        return obj.policy.firm.name

    @admin.display(description=_("amount (CNY)"), ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    """Payments as booked. New ones come only from a policy's "record a bank transfer" page or
    from the payment provider, never from a form here."""

    list_display = [
        "reference",
        "policy_display",
        "firm_name",
        "instalment_display",
        "amount_display",
        "method",
        "received_at",
        "recorded_by_name",
    ]
    list_filter = ["method", ("received_at", admin.DateFieldListFilter)]
    list_select_related = ["policy__firm", "instalment", "recorded_by"]
    search_fields = [
        "reference",
        "policy__number",
        "policy__firm__name_zh",
        "policy__firm__name_en",
        "policy__firm__uscc",
    ]
    ordering = ["-received_at", "-id"]
    fields = [
        "reference",
        "policy_display",
        "instalment_display",
        "amount_display",
        "method",
        "received_at",
        "recorded_by_name",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("policy"), ordering="policy__number")
    def policy_display(self, obj):
        return _policy_link(obj.policy)

    @admin.display(description=_("firm"), ordering="policy__firm__name_zh")
    def firm_name(self, obj):
        return obj.policy.firm.name

    @admin.display(description=_("instalment"), ordering="instalment__sequence")
    def instalment_display(self, obj):
        return obj.instalment.sequence if obj.instalment_id else "—"

    @admin.display(description=_("amount (CNY)"), ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount)

    @admin.display(description=_("recorded by"), ordering="recorded_by__email")
    def recorded_by_name(self, obj):
        return str(obj.recorded_by) if obj.recorded_by_id else gettext("the payment provider")


# --- Exclusion acknowledgements -------------------------------------------------------------------


@admin.register(Acknowledgement)
class AcknowledgementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The applicant's acknowledgement of the exclusions is evidence (Insurance Law art. 17):
    nobody adds, changes or deletes one here, superusers included. The detail page shows every
    field; the print page is the clean copy for a court file."""

    list_display = ["quote_number", "firm_name", "user", "confirmed_at", "dwell_seconds"]
    list_display_links = ["quote_number"]
    list_filter = ["notice_version", "channel", ("confirmed_at", admin.DateFieldListFilter)]
    list_select_related = ["quote", "firm", "user"]
    search_fields = [
        "quote__number",
        "firm__name_zh",
        "firm__name_en",
        "firm__uscc",
        "user__email",
        "text_sha256",
    ]
    ordering = ["-confirmed_at", "-id"]
    change_form_template = "admin/underwriting/acknowledgement/change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "quote_number",
                    "policy_link",
                    "application_link",
                    "firm_display",
                    "user_display",
                    "complete_display",
                ]
            },
        ),
        (
            _("What was shown"),
            {
                "fields": [
                    "notice_version",
                    "clause_version_display",
                    "text_sha256",
                    "hash_check",
                    "notice_text_display",
                ]
            },
        ),
        (
            _("How it was confirmed"),
            {
                "fields": [
                    "shown_at_display",
                    "confirmed_at_display",
                    "dwell_seconds",
                    "ip_address",
                    "user_agent",
                    "channel",
                    "items_table",
                ]
            },
        ),
    ]
    readonly_fields = [
        "quote_number",
        "policy_link",
        "application_link",
        "firm_display",
        "user_display",
        "complete_display",
        "notice_version",
        "clause_version_display",
        "text_sha256",
        "hash_check",
        "notice_text_display",
        "shown_at_display",
        "confirmed_at_display",
        "dwell_seconds",
        "ip_address",
        "user_agent",
        "channel",
        "items_table",
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("quote", "firm", "user", "application", "clause_version__product")
        )

    @admin.display(description=_("quote"), ordering="quote__number")
    def quote_number(self, obj):
        return obj.quote.number

    @admin.display(description=_("firm"), ordering="firm__name_zh")
    def firm_name(self, obj):
        return obj.firm.name

    @admin.display(description=_("firm"))
    def firm_display(self, obj):
        return f"{obj.firm.name} ({obj.firm.uscc})"

    @admin.display(description=_("confirmed by"))
    def user_display(self, obj):
        return f"{obj.user} <{obj.user.email}>"

    @admin.display(description=_("policy"))
    def policy_link(self, obj):
        policy = Policy.objects.filter(acknowledgement=obj).only("pk", "number").first()
        return _policy_link(policy) if policy else "—"

    @admin.display(description=_("application"))
    def application_link(self, obj):
        url = reverse("admin:underwriting_application_change", args=[obj.application_id])
        return format_html('<a href="{}">{}</a>', url, obj.application.reference)

    @admin.display(description=_("complete?"))
    def complete_display(self, obj):
        # Only here, on the detail page: it rebuilds the quote's notice (several queries).
        if services.acknowledgement_is_complete(obj, obj.quote):
            return gettext("Yes: every exclusion of the quote is ticked, with the same text")
        return format_html(
            '<strong class="uw-overdue">{}</strong>',
            gettext("No: the record does not cover the quote's exclusions as they stand"),
        )

    @admin.display(description=_("clause version"))
    def clause_version_display(self, obj):
        version = obj.clause_version
        return f"{version} · SHA-256 {version.text_sha256 or '—'}"

    @admin.display(description=_("SHA-256 of the stored text"))
    def hash_check(self, obj):
        if _text_hash_matches(obj):
            return gettext("Matches the recorded SHA-256")
        return format_html(
            '<strong class="uw-overdue">{}</strong>',
            gettext("Does not match the recorded SHA-256"),
        )

    @admin.display(description=_("text shown"))
    def notice_text_display(self, obj):
        return format_html(
            '<pre class="uw-notice-text" style="white-space: pre-wrap">{}</pre>', obj.notice_text
        )

    @admin.display(description=_("notice shown"), ordering="shown_at")
    def shown_at_display(self, obj):
        return f"{_shanghai(obj.shown_at)} (Asia/Shanghai)"

    @admin.display(description=_("confirmed"), ordering="confirmed_at")
    def confirmed_at_display(self, obj):
        return f"{_shanghai(obj.confirmed_at)} (Asia/Shanghai)"

    @admin.display(description=_("items and ticks"))
    def items_table(self, obj):
        rows = _tick_rows(obj)
        if not rows:
            return "—"
        header = format_html_join(
            "",
            "<th>{}</th>",
            ((label,) for label in (gettext("Item"), gettext("Exclusion"), gettext("Ticked"))),
        )
        body = format_html_join(
            "",
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            (
                (
                    row["key"],
                    row["title"],
                    row["ticked_at"] if row["ticked"] else gettext("not ticked"),
                )
                for row in rows
            ),
        )
        return format_html(
            '<table class="uw-ticks"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
            header,
            body,
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["print_url"] = reverse(
                "admin:underwriting_acknowledgement_print", args=[obj.pk]
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/print/",
                self.admin_site.admin_view(self.print_view),
                name="underwriting_acknowledgement_print",
            ),
            *super().get_urls(),
        ]

    def print_view(self, request, object_id):
        """A clean page for print: the stored text line by line and the evidence."""
        acknowledgement = self.get_object(request, unquote(object_id))
        if acknowledgement is None:
            raise Http404
        if not self.has_view_permission(request, acknowledgement):
            raise Forbidden
        policy = Policy.objects.filter(acknowledgement=acknowledgement).only("number").first()
        response = TemplateResponse(
            request,
            "admin/underwriting/acknowledgement/print.html",
            {
                "title": _("Exclusion acknowledgement for quote %(number)s")
                % {"number": acknowledgement.quote.number},
                "acknowledgement": acknowledgement,
                "policy_number": policy.number if policy else None,
                "lines": acknowledgement.notice_text.splitlines(),
                "ticks": _tick_rows(acknowledgement),
                "shown_at": _shanghai(acknowledgement.shown_at),
                "confirmed_at": _shanghai(acknowledgement.confirmed_at),
                "hash_matches": _text_hash_matches(acknowledgement),
                "complete": services.acknowledgement_is_complete(
                    acknowledgement, acknowledgement.quote
                ),
                "printed_at": _shanghai(timezone.now()),
                "printed_by": request.user,
                "change_url": reverse(
                    "admin:underwriting_acknowledgement_change", args=[acknowledgement.pk]
                ),
            },
        )
        response["Cache-Control"] = "private, no-store"
        return response
