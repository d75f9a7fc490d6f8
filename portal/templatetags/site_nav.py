"""The navigation bar and the footer of every page, written in Python.

Every page drew the bar in the template engine: fifteen URL reversals and twenty-five
translations, several times what this costs. ``site_nav`` and ``site_footer`` write what the
reference templates ``_site_nav.html`` and ``_site_footer.html`` render, byte for byte;
tests/portal/test_site_nav.py holds them to it for every kind of user in both languages, so change
a reference template and its tag together. The translations keep the templates' msgids and stay
outside f-strings, where xgettext might not find them."""

import warnings

from django import template
from django.conf import settings
from django.template.base import render_value_in_context
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, get_language_info, gettext, pgettext

register = template.Library()

# Reversed, escaped URLs by URLconf and script prefix (tests swap the URLconf). No URL here has a
# language prefix, and every application namespace has one instance, so ``{% url %}``'s
# current_app cannot change a result.
_URLS: dict[tuple, dict[str, str]] = {}


def _reverser():
    table = _URLS.setdefault((get_urlconf() or settings.ROOT_URLCONF, get_script_prefix()), {})

    def url(name: str) -> str:
        try:
            return table[name]
        except KeyError:
            table[name] = value = conditional_escape(reverse(name))
            return value

    return url


def _csrf_input(context) -> str:
    # As {% csrf_token %}: the context's (lazy) token, so the page keeps one masked token.
    token = context.get("csrf_token")
    if token:
        if token == "NOTPROVIDED":
            return ""
        return (
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{conditional_escape(token)}">'
        )
    if settings.DEBUG:
        warnings.warn(
            "A {% csrf_token %} was used in a template, but the context "
            "did not provide the value. This is usually caused by not "
            "using RequestContext.",
            stacklevel=2,
        )
    return ""


def _item(href: str, label: str, extra: str = "") -> str:
    return f'<li class="nav-item"><a class="nav-link" href="{href}"{extra}>{label}</a></li>'


def _menu_item(href: str, label: str) -> str:
    return f'<li><a class="dropdown-item" href="{href}">{label}</a></li>'


def _workspace_items(url) -> str:
    items = [
        _item(url("portal:dashboard"), gettext("Workspace")),
        _item(url("portal:asset_list"), gettext("IP assets")),
        _item(url("applications:list"), gettext("My applications"), ' id="nav-applications"'),
        _item(url("policies:list"), gettext("My policies"), ' id="nav-policies"'),
        _item(url("claims:list"), gettext("My claims"), ' id="nav-claims"'),
        _item(url("subsidies:list"), pgettext("main menu", "Subsidies"), ' id="nav-subsidies"'),
        _item(url("portal:firm_detail"), gettext("Firm")),
    ]
    return "".join(f"\n            {item}" for item in items) + "\n          "


def _firm_switch(context, url, request, memberships, next_path, csrf) -> str:
    active_firm = gettext("Active firm")
    switch = gettext("Switch")
    firm = getattr(request, "firm", None)
    options = "".join(
        "\n                  "
        f'<option value="{render_value_in_context(membership.firm_id, context)}" '
        f"{'selected' if firm and membership.firm_id == firm.pk else ''}>"
        f"{render_value_in_context(membership.firm, context)}</option>\n                "
        for membership in memberships
    )
    return (
        '\n          <li class="nav-item">\n'
        f'            <form method="post" action="{url("portal:firm_switch")}" class="d-flex">\n'
        f"              {csrf}\n"
        f'              <input type="hidden" name="next" value="{next_path}">\n'
        f'              <label class="visually-hidden" for="firm-switch">{active_firm}</label>\n'
        '              <select id="firm-switch" name="firm" class="form-select form-select-sm"'
        f" data-autosubmit>\n                {options}\n"
        "              </select>\n"
        '              <noscript><button class="btn btn-sm btn-light ms-1">'
        f"{switch}</button></noscript>\n"
        "            </form>\n"
        "          </li>\n        "
    )


def _language_form(context, url, next_path, csrf) -> str:
    current = get_language()
    buttons = []
    for code, _name in settings.LANGUAGES:
        buttons.append("\n              ")
        if code != current:
            value = render_value_in_context(code, context)
            name = render_value_in_context(get_language_info(code)["name_local"], context)
            buttons.append(
                "\n                \n"
                f'                <button type="submit" name="language" value="{value}"'
                f' class="btn btn-sm btn-outline-light" lang="{value}" id="language-switch">'
                f"{name}</button>\n              "
            )
        buttons.append("\n            ")
    return (
        '\n        <li class="nav-item">\n'
        f'          <form action="{url("set_language")}" method="post" class="d-flex"'
        ' id="language-form">\n'
        f"            {csrf}\n"
        f'            <input name="next" type="hidden" value="{next_path}">\n'
        f"            \n            \n            {''.join(buttons)}\n"
        "          </form>\n"
        "        </li>\n        "
    )


_BELL = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" fill="currentColor"'
    ' viewBox="0 0 16 16" aria-hidden="true" focusable="false"><path d="M8 16a2 2 0 0 0 2-2H6a2 2'
    " 0 0 0 2 2m.995-14.901a1 1 0 1 0-1.99 0A5 5 0 0 0 3 6c0 1.098-.5 6-2 7h14c-1.5-1-2-5.902-2-7"
    ' 0-2.42-1.72-4.44-4.005-4.901"/></svg>'
)


def _account_menu(context, url, user, csrf) -> str:
    notifications = gettext("Notifications")
    unread = context.get("nav_unread_notifications")
    badge = ""
    if unread:
        unread_word = gettext("unread")
        badge = (
            '<span class="badge rounded-pill text-bg-danger" id="nav-unread-count">'
            f"{render_value_in_context(unread, context)}"
            f'<span class="visually-hidden"> {unread_word}</span></span>'
        )
    short_name = render_value_in_context(user.get_short_name(), context)
    email = gettext("Email addresses")
    password = gettext("Change password")
    two_factor = gettext("Two-factor authentication")
    log_out = gettext("Log out")
    return (
        '\n          <li class="nav-item">\n            \n'
        '            <a class="nav-link position-relative px-2"'
        f' href="{url("portal:notifications")}" id="nav-notifications"\n'
        f'               title="{notifications}">\n'
        f"              {_BELL}\n"
        f'              <span class="visually-hidden">{notifications}</span>\n'
        f"              {badge}\n"
        "            </a>\n            \n"
        "          </li>\n"
        '          <li class="nav-item dropdown">\n'
        '            <a class="nav-link dropdown-toggle" href="#" role="button"'
        f' data-bs-toggle="dropdown" aria-expanded="false">{short_name}</a>\n'
        '            <ul class="dropdown-menu dropdown-menu-end">\n'
        f"              {_menu_item(url('account_email'), email)}\n"
        f"              {_menu_item(url('account_change_password'), password)}\n"
        f"              {_menu_item(url('mfa_index'), two_factor)}\n"
        '              <li><hr class="dropdown-divider"></li>\n'
        "              <li>\n"
        f'                <form method="post" action="{url("account_logout")}">{csrf}\n'
        '                  <button class="dropdown-item" type="submit">'
        f"{log_out}</button>\n"
        "                </form>\n"
        "              </li>\n"
        "            </ul>\n"
        "          </li>\n        "
    )


@register.simple_tag(takes_context=True)
def site_nav(context) -> str:
    """The navigation bar, as ``_site_nav.html`` renders it. Like the template it asks the user's
    memberships, officer role and unread count only where it shows them."""
    url = _reverser()
    request = context.get("request")
    user = context.get("user")
    signed_in = user is not None and user.is_authenticated
    main_navigation = gettext("Main navigation")
    portal = gettext("IP Insurance Portal")
    toggle = gettext("Toggle navigation")
    products = gettext("Products")
    parts = [
        '<nav class="navbar navbar-expand-xl navbar-dark bg-primary"'
        f' aria-label="{main_navigation}">\n'
        '  <div class="container">\n'
        f'    <a class="navbar-brand fw-semibold" href="{url("home")}">{portal}</a>\n'
        '    <button class="navbar-toggler" type="button" data-bs-toggle="collapse"'
        ' data-bs-target="#main-nav"\n'
        '            aria-controls="main-nav" aria-expanded="false"'
        f' aria-label="{toggle}">\n'
        '      <span class="navbar-toggler-icon"></span>\n'
        "    </button>\n"
        '    <div class="collapse navbar-collapse" id="main-nav">\n'
        '      <ul class="navbar-nav me-auto">\n'
        f"        {_item(url('underwriting:product_list'), products)}\n        "
    ]
    memberships = context.get("nav_memberships")
    if signed_in:
        parts.append("\n          ")
        if memberships:
            parts.append(_workspace_items(url))
        elif not user.is_staff and not user.is_officer:
            register_firm = gettext("Register your firm")
            item = _item(url("portal:firm_register"), register_firm)
            parts.append(f"\n            {item}\n          ")
        parts.append("\n          ")
        if user.is_officer:
            officer = gettext("Officer workspace")
            parts.append(f"\n            {_item(url('officer:home'), officer)}\n          ")
        parts.append("\n          ")
        if user.is_staff:
            administration = gettext("Administration")
            parts.append(f"\n            {_item(url('admin:index'), administration)}\n          ")
        parts.append("\n        ")
    parts.append(
        '\n      </ul>\n      <ul class="navbar-nav align-items-xl-center gap-xl-2">\n        '
    )
    csrf = _csrf_input(context)
    next_path = render_value_in_context(request.get_full_path(), context) if request else ""
    firm = getattr(request, "firm", None)
    if signed_in and _length(memberships) > 1:
        parts.append(_firm_switch(context, url, request, memberships, next_path, csrf))
    elif signed_in and firm:
        name = render_value_in_context(firm, context)
        parts.append(
            '\n          <li class="nav-item navbar-text text-white-50 small text-truncate'
            f' nav-firm" title="{name}">{name}</li>\n        '
        )
    parts.append(_language_form(context, url, next_path, csrf))
    if signed_in:
        parts.append(_account_menu(context, url, user, csrf))
    else:
        log_in = gettext("Log in")
        sign_up = gettext("Sign up")
        parts.append(
            f"\n          {_item(url('account_login'), log_in)}\n"
            '          <li class="nav-item"><a class="btn btn-sm btn-light"'
            f' href="{url("account_signup")}">{sign_up}</a></li>\n        '
        )
    parts.append("\n      </ul>\n    </div>\n  </div>\n</nav>\n")
    # URLs, values and the CSRF token are escaped above; translations are not, as in the template.
    return mark_safe("".join(parts))  # noqa: S308


def _length(value) -> int:
    # As the |length filter.
    try:
        return len(value)
    except (ValueError, TypeError):
        return 0


@register.simple_tag(takes_context=True)
def site_footer(context) -> str:
    """The footer, as ``_site_footer.html`` renders it."""
    tagline = gettext(
        "IP Insurance Portal — cover for patents, trademarks, copyrights and other IP rights."
    )
    outbox = ""
    if context.get("DEV_OUTBOX_ENABLED"):
        label = gettext("Development outbox")
        outbox = f'<a href="{_reverser()("dev_outbox")}">{label}</a>'
    return mark_safe(  # noqa: S308 - the URL is escaped, the translations as in the template
        '<footer class="border-top py-3 text-muted small">\n'
        '  <div class="container d-flex flex-wrap justify-content-between gap-2">\n'
        f"    <span>{tagline}</span>\n"
        f"    {outbox}\n"
        "  </div>\n"
        "</footer>\n"
    )
