from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from portal.admin_base import HistoryAdmin
from portal.models import (
    Authority,
    Firm,
    Invitation,
    IPAsset,
    Membership,
    OfficerMembership,
    OutboxEmail,
    User,
)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["full_name", "phone", "preferred_language"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]}),
    ]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Firm)
class FirmAdmin(HistoryAdmin):
    list_display = ["name_zh", "name_en", "uscc", "region_code", "industry", "size"]
    list_filter = ["industry", "size"]
    search_fields = ["name_zh", "name_en", "uscc"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(HistoryAdmin):
    list_display = ["user", "firm", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "firm"]
    search_fields = ["user__email", "firm__name_zh"]
    autocomplete_fields = ["user", "firm"]


@admin.register(Invitation)
class InvitationAdmin(HistoryAdmin):
    list_display = ["email", "firm", "role", "created_at", "sent_at", "accepted_at", "revoked_at"]
    list_select_related = ["firm"]
    search_fields = ["email", "firm__name_zh"]
    readonly_fields = ["token", "sent_at", "accepted_at", "accepted_by"]


class OfficerInline(admin.TabularInline):
    model = OfficerMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Authority)
class AuthorityAdmin(HistoryAdmin):
    list_display = ["name_zh", "name_en", "region_code", "level"]
    search_fields = ["name_zh", "name_en", "region_code"]
    inlines = [OfficerInline]


@admin.register(OfficerMembership)
class OfficerMembershipAdmin(HistoryAdmin):
    list_display = ["user", "authority", "title"]
    list_select_related = ["user", "authority"]
    autocomplete_fields = ["user", "authority"]


@admin.register(IPAsset)
class IPAssetAdmin(HistoryAdmin):
    list_display = ["kind", "number", "title", "firm", "legal_status", "expiry_date"]
    list_filter = ["kind", "legal_status", "patent_type"]
    list_select_related = ["firm"]
    search_fields = ["number", "title", "firm__name_zh"]
    autocomplete_fields = ["firm"]


@admin.register(OutboxEmail)
class OutboxEmailAdmin(admin.ModelAdmin):
    list_display = ["subject", "to", "sent_at"]
    readonly_fields = ["to", "subject", "body", "html_body", "sent_at"]
