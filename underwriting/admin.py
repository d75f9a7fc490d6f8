from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from portal.errors import DomainError
from underwriting import services
from underwriting.choices import ClauseStatus
from underwriting.models import (
    ClauseVersion,
    CoefficientOption,
    CoefficientTable,
    Insurer,
    Product,
    ProductInsurer,
    RatingSection,
    Rider,
    RiderFactor,
)


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
class ProductAdmin(SimpleHistoryAdmin):
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
class RiderAdmin(SimpleHistoryAdmin):
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
class ClauseVersionAdmin(SimpleHistoryAdmin):
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
                "<int:old_id>/compare/<int:new_id>/",
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
