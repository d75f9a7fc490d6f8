import html

from django.contrib.admin.templatetags.admin_list import (
    ResultList,
    pagination,
    result_headers,
    result_list,
    search_form,
)
from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.forms.widgets import MEDIA_TYPES, Media
from django.template import Context
from django.template.base import render_value_in_context
from django.template.loader import render_to_string, select_template
from django.urls import reverse
from django.utils.encoding import iri_to_uri
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from simple_history.admin import SimpleHistoryAdmin

_PK_PLACEHOLDER = "__pk__"
_ROW_JOIN = "</tr>\n\n\n<tr>"
# Stands for the rows in the kept rendering of the results table around them.
_ROWS_PLACEHOLDER = "\x00rows\x00"

# Pieces of a changelist page rendered once per distinct input (see RowLinkChangeList): the
# key is everything the piece's template reads, so a hit is the markup Django would render.
# Kept in the process, not the shared cache: a hit then costs a dict lookup, where a cache read
# costs a round trip and an unpickling, and a cache that is down cannot touch the page.
_KEPT: dict[tuple, str] = {}
_KEPT_MAX = 1024
# A query string longer than this (nobody's filters; a crafted URL) is rendered each time,
# so that odd URLs cannot fill the memory with large keys.
_KEPT_QUERY_MAX = 1000


def _kept(key: tuple | None, render) -> str:
    if key is None:
        return render()
    markup = _KEPT.get(key)
    if markup is None:
        markup = render()
        if len(_KEPT) >= _KEPT_MAX:
            _KEPT.clear()
        _KEPT[key] = markup
    return markup


class RowLinkChangeList(ChangeList):
    """A changelist whose row links cost a string format each, not a URL reverse plus a resolve.

    Django links every row to its change page with ``reverse()`` and then passes the link through
    ``add_preserved_filters``, which resolves it again to decide which filters to carry over; on a
    50-row queue that was a fifth of the page's time. The change URL is reversed once here with a
    placeholder and the list's filters are appended as Django would have appended them, so the
    rows link to the same address and the "back to the list" filters survive as before.

    For a change_list.html that prints them in place of Django's tags, it also gives the filter
    sidebar, the search form, the pagination and the results table around the rows, each
    rendered by Django's own templates once per distinct input and then kept (``_kept``). Their
    inputs are few: the query string, the language, the result count and, for the filters, the
    choices each filter offers; the rows themselves are never kept."""

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
            return self._admin_template("change_list_results.html").render(result_list(self))
        if not rows:
            return self._results_table(())
        # Django's template prints each result as "\n\n<tr>{cells}</tr>\n": the rows joined
        # that way make one result of the same bytes, without a template loop a row. The admin
        # built each row with every value escaped. The table around them (the headers and their
        # sorting links) depends only on the query string and the language: it is kept, with a
        # placeholder where the rows go.
        key = self._kept_key(
            "results",
            tuple(self.list_display),
            tuple(self.list_display_links or ()),
            None if self.sortable_by is None else tuple(self.sortable_by),
        )
        before, after = _kept(key, lambda: self._results_table((_ROWS_PLACEHOLDER,))).split(
            _ROWS_PLACEHOLDER
        )
        return mark_safe(f"{before}{_ROW_JOIN.join(rows)}{after}")  # noqa: S308

    def _results_table(self, rows) -> str:
        headers = list(result_headers(self))
        # mark_safe: the rows are finished markup (or the placeholder).
        results = [ResultList(None, (mark_safe(_ROW_JOIN.join(rows)),))] if rows else []  # noqa: S308
        context = {
            "cl": self,
            "result_hidden_fields": [],
            "result_headers": headers,
            "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
            "results": results,
        }
        return self._admin_template("change_list_results.html").render(context)

    def filters_html(self):
        """The filter sidebar, for ``{% block filters %}{{ cl.filters_html }}{% endblock %}``:
        Django's block, from admin/change_list_filters.html (or a model's or app's own). Kept
        when every filter says what its choices are made of (``choice_inputs``) and no counts
        are shown: the counts are queries of the moment, so a page with them renders its sidebar
        each time."""
        template = self._admin_template("change_list_filters.html")

        def render():
            return template.render({"cl": self})

        if self.add_facets:
            return render()
        inputs = []
        for spec in self.filter_specs:
            choice_inputs = getattr(spec, "choice_inputs", None)
            if choice_inputs is None:
                return render()
            inputs.append((type(spec), str(spec.title), choice_inputs()))
        key = self._kept_key(
            "filters",
            self.is_facets_optional,
            self.has_active_filters,
            self.has_filters,
            tuple(inputs),
        )
        return _kept(key, render)

    def search_form_html(self):
        """Django's ``{% search_form cl %}``. Its hidden inputs repeat the parameters in the
        order the URL gave them, so that order is part of the key; so is the result count it
        prints."""
        key = self._kept_key(
            "search",
            tuple(self.params.items()),
            self.query,
            self.result_count,
            self.full_result_count,
            self.is_popup,
            self.add_facets,
            str(self.search_help_text),
            bool(self.search_fields),
        )
        return _kept(
            key, lambda: self._admin_template("search_form.html").render(search_form(self))
        )

    def pagination_html(self):
        """Django's ``{% pagination cl %}``: the page links follow the page, the count and the
        query string."""
        key = self._kept_key(
            "pagination",
            self.page_num,
            self.result_count,
            self.list_per_page,
            self.list_max_show_all,
            self.show_all,
        )
        return _kept(key, lambda: self._admin_template("pagination.html").render(pagination(self)))

    def _kept_key(self, piece: str, *inputs) -> tuple | None:
        """The key of a kept piece of this page: the piece, the model admin, the language, the
        query string (as ``get_query_string`` reads it) and the piece's own inputs; None for a
        query string too long to keep."""
        params = tuple(sorted((name, tuple(values)) for name, values in self.filter_params.items()))
        if sum(len(name) + sum(map(len, values)) for name, values in params) > _KEPT_QUERY_MAX:
            return None
        return (piece, type(self.model_admin), get_language(), params, *inputs)

    def _admin_template(self, name: str):
        """The template an admin inclusion tag would choose: per model, per app, or Django's."""
        app_label, model_name = self.opts.app_label.lower(), self.opts.model_name
        return select_template(
            [f"admin/{app_label}/{model_name}/{name}", f"admin/{app_label}/{name}", f"admin/{name}"]
        )


class PrerenderedChoicesMixin:
    """A list filter whose choices are printed by ``choices_html`` in one pass, for a template
    like Django's admin/filter.html with ``{{ spec.choices_html }}`` in place of its loop: the
    same markup, without a template loop a choice (35 for the products)."""

    def choices(self, changelist):
        self._listed_choices = list(super().choices(changelist))
        return self._listed_choices

    def choice_inputs(self) -> tuple:
        """What this filter's choices are made of besides the query string and the language,
        for the key of the kept sidebar (RowLinkChangeList.filters_html): the looked-up choices
        (the product names as loaded, a simple filter's lookups) or the field's fixed choices.
        A filter whose choices depend on anything else (the user, the time) must say so here."""
        choices = getattr(self, "lookup_choices", None)
        if choices is None:
            choices = self.field.flatchoices
        return tuple((str(value), str(label)) for value, label in choices)

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


# Stands for the request's CSP nonce in kept media tags; letters only, so escaping keeps it.
_NONCE_PLACEHOLDER = "keptmedianonceplaceholder"


class KeptMedia(Media):
    """A page's form media whose tags are built once per process and kind (js, css).

    Django's change_list.html prints ``{% csp_nonce_attr media.js %}``: eight script tags, their
    lists merged with a topological sort and each path passed through the static files storage,
    the same on every page but for the CSP nonce. The tags are kept with a placeholder for the
    nonce, which each page fills with its own. The key is the media's asset lists (paths and
    attributes), so other media get their own tags."""

    @classmethod
    def of(cls, media: Media) -> "KeptMedia":
        kept = cls()
        kept._css_lists, kept._js_lists = media._css_lists, media._js_lists
        return kept

    def __getitem__(self, name):
        if name not in MEDIA_TYPES:
            return super().__getitem__(name)  # Django's KeyError
        return _KeptMediaPart(self, name)

    def _assets_key(self, name: str) -> tuple:
        if name == "js":
            return tuple(tuple(assets) for assets in self._js_lists)
        return tuple(
            tuple((medium, tuple(assets)) for medium, assets in sorted(css.items()))
            for css in self._css_lists
        )


class _KeptMediaPart:
    """``media.js`` or ``media.css`` of a KeptMedia: renders as Django's Media would."""

    def __init__(self, media: KeptMedia, name: str):
        self._media, self._name = media, name

    def _django(self) -> Media:
        return Media.__getitem__(self._media, self._name)

    def render(self, *, attrs=None):
        key = ("media", self._name, bool(attrs), self._media._assets_key(self._name))
        if not attrs:
            return _kept(key, lambda: self._django().render())
        nonce = attrs.get("nonce")
        # Only what {% csp_nonce_attr %} passes is kept: a nonce (flatatt() would print None or a
        # boolean otherwise) and no other attribute.
        if len(attrs) != 1 or nonce is None or isinstance(nonce, bool):
            return self._django().render(attrs=attrs)
        tags = _kept(key, lambda: self._django().render(attrs={"nonce": _NONCE_PLACEHOLDER}))
        # The nonce escaped as format_html() escapes an attribute's value.
        return mark_safe(tags.replace(_NONCE_PLACEHOLDER, conditional_escape(nonce)))  # noqa: S308

    def __str__(self):
        return self.render()

    def __html__(self):
        return self.render()


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
