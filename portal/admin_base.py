import html

from django.contrib.admin.templatetags.admin_list import (
    ResultList,
    result_headers,
    result_list,
)
from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.template import Context
from django.template.base import render_value_in_context
from django.template.loader import render_to_string, select_template
from django.urls import reverse
from django.utils.encoding import iri_to_uri
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from simple_history.admin import SimpleHistoryAdmin

_PK_PLACEHOLDER = "__pk__"
_ROW_JOIN = "</tr>\n\n\n<tr>"


class RowLinkChangeList(ChangeList):
    """A changelist whose row links cost a string format each, not a URL reverse plus a resolve.

    Django links every row to its change page with ``reverse()`` and then passes the link through
    ``add_preserved_filters``, which resolves it again to decide which filters to carry over; on a
    50-row queue that was a fifth of the page's time. The change URL is reversed once here with a
    placeholder and the list's filters are appended as Django would have appended them, so the
    rows link to the same address and the "back to the list" filters survive as before."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._row_filters = self.preserved_filters
        # items_for_result() skips its resolve when there is nothing to preserve; the filters
        # are already part of the link built below.
        self.preserved_filters = ""
        self._change_url_parts = None

    def url_for_result(self, result):
        if self._change_url_parts is None:
            url = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                args=(_PK_PLACEHOLDER,),
                current_app=self.model_admin.admin_site.name,
            )
            self._change_url_parts = url.split(_PK_PLACEHOLDER, 1)
        before, after = self._change_url_parts
        url = f"{before}{quote(getattr(result, self.pk_attname))}{after}"
        return f"{url}?{self._row_filters}" if self._row_filters else url

    def result_list_html(self):
        """The table of results, for a change_list.html that prints this instead of calling
        ``{% result_list cl %}``. A model admin with ``result_rows(changelist)`` gives each row's
        cells as finished HTML (or None to decline); rows then skip Django's items_for_result(),
        whose lookup_field(), display_for_value() and two format_html() a cell made most of a
        50-row page's cost. Headers and the template are Django's, chosen as the tag chooses."""
        rows = None
        if self.formset is None and not self.is_popup and not self.to_field:
            rows_of = getattr(self.model_admin, "result_rows", None)
            rows = rows_of(self) if rows_of is not None else None
        if rows is None:
            context = result_list(self)
        else:
            headers = list(result_headers(self))
            # Django's template prints each result as "\n\n<tr>{cells}</tr>\n": the rows joined
            # that way make one result of the same bytes, without a template loop a row. The
            # admin built each row with every value escaped.
            joined = mark_safe(_ROW_JOIN.join(rows))  # noqa: S308
            context = {
                "cl": self,
                "result_hidden_fields": [],
                "result_headers": headers,
                "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
                "results": [ResultList(None, (joined,))] if rows else [],
            }
        app_label, model_name = self.opts.app_label.lower(), self.opts.model_name
        template = select_template(
            [
                f"admin/{app_label}/{model_name}/change_list_results.html",
                f"admin/{app_label}/change_list_results.html",
                "admin/change_list_results.html",
            ]
        )
        return template.render(context)


class PrerenderedChoicesMixin:
    """A list filter whose choices are printed by ``choices_html`` in one pass, for a template
    like Django's admin/filter.html with ``{{ spec.choices_html }}`` in place of its loop: the
    same markup, without a template loop a choice (35 for the products)."""

    def choices(self, changelist):
        self._listed_choices = list(super().choices(changelist))
        return self._listed_choices

    def choices_html(self):
        context = Context()
        items = []
        for choice in self._listed_choices:
            selected = ' class="selected"' if choice["selected"] else ""
            link = html.escape(iri_to_uri(choice["query_string"]))
            display = render_value_in_context(choice["display"], context)
            items.append(f'\n    <li{selected}>\n    <a href="{link}">{display}</a></li>\n  ')
        # Escaped above as the template's {{ }} would escape them.
        return mark_safe("".join(items))  # noqa: S308


_SIDEBARS: dict[tuple, str] = {}
_SIDEBARS_MAX = 256


def nav_sidebar_html(request, available_apps) -> str:
    """The admin's nav sidebar (Django's admin/nav_sidebar.html) for these apps, rendered once
    per distinct input. Its ~30 model rows were a tenth of a changelist page. The key holds all
    the template reads (the language, the path it marks as current, every app's and model's
    label, name and links), so a user who sees other models or another language gets their own
    entry; an overridden nav_sidebar.html or app_list.html must read nothing else."""
    key = (
        get_language(),
        request.path,
        tuple(
            (
                app["app_label"],
                app["app_url"],
                str(app["name"]),
                tuple(
                    (
                        model["object_name"],
                        str(model["name"]),
                        model["admin_url"],
                        model["add_url"],
                        model.get("view_only"),
                    )
                    for model in app["models"]
                ),
            )
            for app in available_apps
        ),
    )
    markup = _SIDEBARS.get(key)
    if markup is None:
        markup = render_to_string(
            "admin/nav_sidebar.html", {"available_apps": available_apps, "request": request}
        )
        if len(_SIDEBARS) >= _SIDEBARS_MAX:
            _SIDEBARS.clear()
        _SIDEBARS[key] = markup
    return markup


class HistoryAdmin(SimpleHistoryAdmin):
    """History to read, never to revert. django-simple-history's old-version page saves the old
    version on POST for anyone who may view it (the revert setting only hides the button); that
    would rewrite a row around the services and their checks, so the POST is refused for all."""

    def get_changelist(self, request, **kwargs):
        return RowLinkChangeList

    def get_empty_value_display(self):
        # Django's version reaches the site-wide value through a caught AttributeError, once for
        # every cell of a changelist (450 on a queue page).
        own = getattr(self, "empty_value_display", None)
        # Same as Django: the value is the developer's own markup, never user input.
        return mark_safe(own if own is not None else self.admin_site.empty_value_display)  # noqa: S308

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class ReadOnlyMixin:
    """An admin to read: every change goes through a service on a guarded action page."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def cache_app_list(site) -> None:
    """Makes ``site.get_app_list`` remember its answer per language and set of permissions.

    Every admin page builds the list of apps and models the user may see (the nav sidebar, the
    index): a permission check and two URL reversals for each of ~45 models, about a tenth of a
    changelist page. What it returns depends only on the user's permissions (every
    ``has_*_permission`` of this project decides from them and the object, which the list does
    not have) and on the language of the names, so those are the key. Each call gets its own
    copy of the dicts, which Django's views are free to change."""
    build = site.get_app_list
    remembered: dict[tuple, list] = {}

    def get_app_list(request, app_label=None):
        user = request.user
        key = (
            get_language(),
            app_label,
            user.is_active,
            user.is_staff,
            user.is_superuser,
            frozenset(user.get_all_permissions()),
        )
        apps = remembered.get(key)
        if apps is None:
            apps = build(request, app_label)
            if len(remembered) >= _SIDEBARS_MAX:
                remembered.clear()
            remembered[key] = apps
        return [{**app, "models": [dict(model) for model in app["models"]]} for app in apps]

    site.get_app_list = get_app_list
