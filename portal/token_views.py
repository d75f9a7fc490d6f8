"""API tokens in the workspaces: /app/firm/tokens/ for firm owners, /officer/tokens/ for officers.

One page for both (templates/portal/tokens.html, with ``workspace`` telling which): the user's
tokens with their prefix, creation and expiry, a form to create one, and a button to revoke each.
A new token is shown once, in the answer to the POST that created it (never stored, never cached);
the portal keeps only knox's hash. Every rule is in portal/api.py, shared with /api/v1/tokens/.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from portal.api import (
    api_token_create,
    api_token_limit,
    api_token_max_days,
    api_token_revoke,
    api_tokens_of,
    token_prefix,
)
from portal.errors import DomainError
from portal.officer_views import officer_required
from portal.views import applicant_required

WORKSPACES = {
    # workspace: (the page, the revoke action)
    "firm": ("portal:tokens", "portal:token_revoke"),
    "officer": ("officer:tokens", "officer:token_revoke"),
}


class TokenCreateForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        maximum = api_token_max_days()  # API_TOKEN_DAYS
        self.fields["expiry_days"] = forms.IntegerField(
            label=gettext_lazy("Valid for (days)"),
            min_value=1,
            max_value=maximum,
            initial=maximum,
            help_text=gettext("At most %(max)s days.") % {"max": maximum},
        )


def firm_owner_required(view):
    """Signed in, working for a firm, and owner of a firm (any of theirs, as for the API):
    members create no tokens."""

    @applicant_required
    def wrapped(request, *args, **kwargs):
        if not any(membership.is_owner for membership in request.memberships):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _page(request, workspace: str, *, form=None, new_token=None, status=200):
    page_url_name, revoke_url_name = WORKSPACES[workspace]
    limit = api_token_limit()
    tokens = list(api_tokens_of(request.user))
    for token in tokens:
        token.prefix = token_prefix(token)
    return render(
        request,
        "portal/tokens.html",
        {
            "workspace": workspace,
            "tokens": tokens,
            "form": form or TokenCreateForm(),
            "new_token": new_token,
            "max_days": api_token_max_days(),
            "limit": limit,
            "at_limit": limit is not None and len(tokens) >= limit,
            "page_url": reverse(page_url_name),
            "revoke_url_name": revoke_url_name,
        },
        status=status,
    )


def _tokens(request, workspace: str):
    if request.method != "POST":
        return _page(request, workspace)
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, workspace, form=form, status=400)
    try:
        token, secret = api_token_create(user=request.user, days=form.cleaned_data["expiry_days"])
    except DomainError as error:
        form.add_error(None, error.message)
        return _page(request, workspace, form=form, status=400)
    messages.success(request, gettext("API token created. Copy it now: it is shown only once."))
    # Answered here rather than after a redirect, so that the token is never stored anywhere.
    return _page(request, workspace, new_token={"token": secret, "expiry": token.expiry})


def _revoke(request, workspace: str, token_key: str):
    api_token_revoke(user=request.user, token_key=token_key)  # 404 unless it is the user's
    messages.success(request, gettext("API token revoked: it no longer works."))
    return redirect(WORKSPACES[workspace][0])


@never_cache
@require_http_methods(["GET", "POST"])
@firm_owner_required
def firm_tokens(request):
    return _tokens(request, "firm")


@never_cache
@require_POST
@firm_owner_required
def firm_token_revoke(request, token_key):
    return _revoke(request, "firm", token_key)


@never_cache
@require_http_methods(["GET", "POST"])
@officer_required
def officer_tokens(request):
    return _tokens(request, "officer")


@never_cache
@require_POST
@officer_required
def officer_token_revoke(request, token_key):
    return _revoke(request, "officer", token_key)
