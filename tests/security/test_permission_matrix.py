"""The permission matrix: every URL pattern of the project, requested as each of seven personas,
against an explicit table of what each persona must get.

* Every pattern of the URLconf (walked from ``get_resolver()``, through every include: the admin
  with each ModelAdmin's pages, the API, allauth, the workspaces) must have an entry in
  ``EXPECTED``, and every entry must still name a pattern: a new URL cannot ship without someone
  deciding who may open it.
* URL kwargs are filled with objects of firm A and authority X (tests/security/matrix_objects.py).
  Firm B's applicant and authority Y's officer must get nothing of them; staff get the admin by
  their groups' permissions; nobody but firm A's applicant reaches firm A's workspace.
* Endpoints that change something are also sent their write method (POST, PUT or DELETE, no
  body unless the entry gives one) by every persona who must not use them: each is refused and
  the database is left as it was.
* Every response carries the security headers, and no response to a persona who may not see firm
  A shows one of firm A's references.

Outcomes: a status code, ``LOGIN`` (the site's login for pages, the admin's login under /admin/,
401 under /api/) or ``To(path)``, a redirect to ``path``.
"""

import json
import string
import time
from dataclasses import dataclass, field
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve

from tests.security.matrix_objects import build
from tests.underwriting.conftest import seeded_catalogue  # noqa: F401 - shared fixture

PERSONAS = ("anon", "a", "b", "uw", "ch", "ox", "oy")
LOGIN = "login"


@dataclass(frozen=True)
class To:
    """A redirect (302) to this path; the query string is not compared."""

    path: str


def row(anon, a, b, uw, ch, ox, oy) -> dict:
    return dict(zip(PERSONAS, (anon, a, b, uw, ch, ox, oy), strict=True))


def refused(**outcomes) -> dict:
    """The personas sent the write method, with the refusal each must get."""
    return outcomes


@dataclass(frozen=True)
class Entry:
    url: str
    get: dict
    # Personas who must not use the endpoint, sent ``method`` with ``data``, and what they get.
    write: dict = field(default_factory=dict)
    method: str = "post"
    data: dict | None = None
    json: bool = False


# --- Named rows: who gets what on a GET -----------------------------------------------------------

EVERYONE = row(200, 200, 200, 200, 200, 200, 200)
SIGNED_IN = row(LOGIN, 200, 200, 200, 200, 200, 200)
NOT_ALLOWED_METHOD = row(405, 405, 405, 405, 405, 405, 405)
# Applicant workspace of underwriting, claims and subsidies: staff and officers have none (404).
APPLICANTS = row(LOGIN, 200, 200, 404, 404, 404, 404)  # each applicant sees their own firm's
FIRM_A = row(LOGIN, 200, 404, 404, 404, 404, 404)  # firm A's object: nobody else's
FIRM_A_WRITE = row(LOGIN, 405, 405, 405, 405, 405, 405)  # POST-only, GET refused first
NOT_FIRM_A = refused(anon=LOGIN, b=404, uw=404, ch=404, ox=404, oy=404)
# The shared kernel's pages (firm, assets, tokens) send users without a firm to register one.
NEW_FIRM = To("/app/firms/new/")
KERNEL = row(LOGIN, 200, 200, NEW_FIRM, NEW_FIRM, NEW_FIRM, NEW_FIRM)
KERNEL_FIRM_A = row(LOGIN, 200, 404, NEW_FIRM, NEW_FIRM, NEW_FIRM, NEW_FIRM)
KERNEL_NOT_FIRM_A = refused(anon=LOGIN, b=404, uw=NEW_FIRM, ch=NEW_FIRM, ox=NEW_FIRM, oy=NEW_FIRM)
KERNEL_NO_FIRM = refused(anon=LOGIN, uw=NEW_FIRM, ch=NEW_FIRM, ox=NEW_FIRM, oy=NEW_FIRM)
# The officers' workspace: officers of any authority, each for their own authority's objects.
OFFICERS = row(LOGIN, 403, 403, 403, 403, 200, 200)
AUTHORITY_X = row(LOGIN, 403, 403, 403, 403, 200, 404)
OFFICER_WRITE = row(LOGIN, 403, 403, 403, 403, 405, 405)
NOT_OFFICERS = refused(anon=LOGIN, a=403, b=403, uw=403, ch=403)
NOT_AUTHORITY_X = refused(anon=LOGIN, a=403, b=403, uw=403, ch=403, oy=404)
# The admin: staff only; everyone else is sent to the admin's login.
NON_STAFF = {"anon": LOGIN, "a": LOGIN, "b": LOGIN, "ox": LOGIN, "oy": LOGIN}


def staff(uw, ch) -> dict:
    return {**NON_STAFF, "uw": uw, "ch": ch}


# Senior underwriters' and administrators' business: refused to every persona here.
NOT_SENIOR = refused(**NON_STAFF, uw=403, ch=403)
UNDERWRITING_ACTION = staff(200, 403)  # underwriters' pages on a referred application
CLAIMS_ACTION = staff(403, 200)  # claims handlers' pages on a claim
NOT_UNDERWRITER = refused(**NON_STAFF, ch=403)
NOT_HANDLER = refused(**NON_STAFF, uw=403)
BACK_TO_CLAIM = To("/admin/claims/claim/{claim}/change/")

# --- The admin's ModelAdmins: what each staff persona may do --------------------------------------
# Object (a key of matrix_objects.build), then the underwriter's and the claims handler's rights as
# the admin grants them ("v"iew, "a"dd, "c"hange, "d"elete), and whether django-simple-history's
# old-version page is there. The object admins of policies, payments and the like are read-only
# for everyone: every change goes through a guarded action page (listed further down).

ADMIN_MODELS = {
    "auth.group": ("group", "", "", False),
    "account.emailaddress": ("email_address", "", "", False),
    "mfa.authenticator": ("authenticator", "", "", False),
    "knox.authtoken": ("token_digest", "", "", False),
    "portal.user": ("user", "", "", False),
    "portal.firm": ("firm", "v", "v", True),
    "portal.membership": ("membership", "v", "", True),
    "portal.invitation": ("invitation", "", "", True),
    "portal.authority": ("authority", "", "", True),
    "portal.officermembership": ("officer_membership", "", "", True),
    "portal.ipasset": ("asset", "v", "v", True),
    "portal.outboxemail": ("outbox_email", "", "", False),
    "underwriting.insurer": ("insurer", "v", "v", False),
    "underwriting.product": ("product", "v", "v", True),
    "underwriting.rider": ("rider", "v", "v", True),
    "underwriting.clauseversion": ("clause_version", "v", "v", True),
    "underwriting.coefficienttable": ("coefficient_table", "v", "v", False),
    "underwriting.application": ("referred", "v", "v", True),
    "underwriting.quote": ("quote", "v", "v", True),
    "underwriting.underwriterauthority": ("underwriter_authority", "v", "", True),
    "underwriting.questionnaire": ("questionnaire", "v", "v", False),
    "underwriting.underwritingrule": ("underwriting_rule", "v", "v", True),
    "underwriting.policy": ("policy", "v", "v", True),
    "underwriting.instalment": ("instalment", "v", "v", False),
    "underwriting.payment": ("payment", "v", "v", True),
    "underwriting.acknowledgement": ("acknowledgement", "v", "v", False),
    "claims.claim": ("claim", "v", "v", True),
    "claims.claimpayment": ("claim_payment", "v", "v", True),
    "claims.recovery": ("recovery", "", "v", False),
    "claims.reinstatement": ("reinstatement", "", "v", True),
    "subsidies.programme": ("programme", "", "", True),
    "subsidies.subsidyrequest": ("subsidy", "", "", True),
    "subsidies.disbursementbatch": ("batch", "", "", True),
}


def _admin_entries() -> dict:
    """Each ModelAdmin's own pages: changelist, add, change, delete, history, the bare object URL
    (a redirect to its change page) and, with django-simple-history, an old version."""

    def may(rights: str, letter: str) -> int:
        return 200 if letter in rights else 403

    entries = {}
    for label, (obj, uw, ch, simple_history) in ADMIN_MODELS.items():
        app, model = label.split(".")
        base = f"/admin/{app}/{model}/"
        one = f"{base}{{{obj}}}/"
        name = f"admin:{app}_{model}"
        seen = (uw.replace("c", "v"), ch.replace("c", "v"))
        entries[f"{name}_changelist"] = Entry(base, staff(may(seen[0], "v"), may(seen[1], "v")))
        entries[f"{name}_add"] = Entry(base + "add/", staff(may(uw, "a"), may(ch, "a")))
        entries[f"{name}_change"] = Entry(
            one + "change/", staff(may(seen[0], "v"), may(seen[1], "v"))
        )
        entries[f"{name}_delete"] = Entry(one + "delete/", staff(may(uw, "d"), may(ch, "d")))
        entries[f"{name}_history"] = Entry(
            one + "history/", staff(may(seen[0], "v"), may(seen[1], "v"))
        )
        entries[f"admin/{app}/{model}/<path:object_id>/"] = Entry(
            one, staff(To(one + "change/"), To(one + "change/"))
        )
        if simple_history:
            entries[f"{name}_simple_history"] = Entry(
                f"{one}history/{{history_{obj}}}/", staff(may(seen[0], "v"), may(seen[1], "v"))
            )
    return entries


# --- The table ------------------------------------------------------------------------------------

EXPECTED = {
    # Public pages.
    "home": Entry("/", EVERYONE),
    "healthz": Entry("/healthz", EVERYONE),
    "robots.txt": Entry("/robots.txt", EVERYONE),
    "underwriting:product_list": Entry("/products/", EVERYONE),
    "underwriting:product_detail": Entry("/products/{product_code}/", EVERYONE),
    "underwriting:product_premium": Entry(
        "/products/{product_code}/premium/", row(*[To("/products/{product_code}/")] * 7)
    ),
    "verify": Entry("/verify/", EVERYONE),
    "public_subsidies": Entry("/public/subsidies/", EVERYONE),
    "set_language": Entry("/i18n/setlang/", row(*[To("/")] * 7)),
    "javascript-catalog": Entry("/jsi18n/", EVERYONE),
    # The development mail viewer exists only with DEBUG on.
    "dev_outbox": Entry("/dev/outbox/", row(*[404] * 7)),
    # allauth. A signed-in user has no business on login or sign-up; the personas signed in
    # without a password step, so MFA changes first ask them to reauthenticate; applicants have
    # no authenticator to deactivate and nobody has recovery codes yet.
    "account_login": Entry("/accounts/login/", row(200, *[To("/app/")] * 6)),
    "account_signup": Entry("/accounts/signup/", row(200, *[To("/app/")] * 6)),
    "account_logout": Entry("/accounts/logout/", row(To("/"), *[200] * 6)),
    "account_inactive": Entry("/accounts/inactive/", EVERYONE),
    "account_reauthenticate": Entry("/accounts/reauthenticate/", SIGNED_IN),
    "account_email": Entry("/accounts/email/", SIGNED_IN),
    "account_email_verification_sent": Entry("/accounts/confirm-email/", EVERYONE),
    "account_confirm_email": Entry("/accounts/confirm-email/no-such-key/", EVERYONE),
    "account_change_password": Entry("/accounts/password/change/", SIGNED_IN),
    "account_set_password": Entry(
        "/accounts/password/set/", row(LOGIN, *[To("/accounts/password/change/")] * 6)
    ),
    "account_reset_password": Entry("/accounts/password/reset/", EVERYONE),
    "account_reset_password_done": Entry("/accounts/password/reset/done/", EVERYONE),
    "account_reset_password_from_key": Entry(
        "/accounts/password/reset/key/1-no-such-key/", EVERYONE
    ),
    "account_reset_password_from_key_done": Entry("/accounts/password/reset/key/done/", EVERYONE),
    "account_confirm_login_code": Entry(
        "/accounts/login/code/confirm/", row(LOGIN, *[To("/app/")] * 6)
    ),
    "mfa_index": Entry("/accounts/2fa/", SIGNED_IN),
    "mfa_authenticate": Entry("/accounts/2fa/authenticate/", row(LOGIN, *[To("/app/")] * 6)),
    "mfa_reauthenticate": Entry(
        "/accounts/2fa/reauthenticate/",
        row(
            LOGIN,
            To("/accounts/reauthenticate/"),
            To("/accounts/reauthenticate/"),
            200,
            200,
            200,
            200,
        ),
    ),
    "mfa_activate_totp": Entry(
        "/accounts/2fa/totp/activate/", row(LOGIN, *[To("/accounts/reauthenticate/")] * 6)
    ),
    "mfa_deactivate_totp": Entry(
        "/accounts/2fa/totp/deactivate/",
        row(LOGIN, 404, 404, *[To("/accounts/reauthenticate/")] * 4),
    ),
    "mfa_view_recovery_codes": Entry("/accounts/2fa/recovery-codes/", row(LOGIN, *[404] * 6)),
    "mfa_generate_recovery_codes": Entry(
        "/accounts/2fa/recovery-codes/generate/",
        row(LOGIN, *[To("/accounts/reauthenticate/")] * 6),
    ),
    "mfa_download_recovery_codes": Entry(
        "/accounts/2fa/recovery-codes/download/", row(LOGIN, *[404] * 6)
    ),
    # The applicant's firm, members, invitations, tokens and IP assets (the shared kernel).
    "portal:dashboard": Entry(
        "/app/",
        row(LOGIN, 200, 200, To("/admin/"), To("/admin/"), To("/officer/"), To("/officer/")),
    ),
    "portal:notifications": Entry("/app/notifications/", SIGNED_IN),  # one's own only
    # Anyone signed in may register a firm of their own.
    "portal:firm_register": Entry("/app/firms/new/", SIGNED_IN),
    # Switching to firm A is refused to everyone who is not its member.
    "portal:firm_switch": Entry(
        "/app/firms/switch/",
        NOT_ALLOWED_METHOD,
        write=refused(anon=LOGIN, b=404, uw=404, ch=404, ox=404, oy=404),
        data={"firm": "{firm}"},
    ),
    "portal:firm_detail": Entry("/app/firm/", KERNEL),
    "portal:firm_edit": Entry("/app/firm/edit/", KERNEL, write=KERNEL_NO_FIRM),
    "portal:firm_invite": Entry("/app/firm/invite/", NOT_ALLOWED_METHOD, write=KERNEL_NO_FIRM),
    "portal:invitation_revoke": Entry(
        "/app/firm/invitations/{invitation}/revoke/", NOT_ALLOWED_METHOD, write=KERNEL_NOT_FIRM_A
    ),
    "portal:member_remove": Entry(
        "/app/firm/members/{membership}/remove/", NOT_ALLOWED_METHOD, write=KERNEL_NOT_FIRM_A
    ),
    "portal:tokens": Entry("/app/firm/tokens/", KERNEL, write=KERNEL_NO_FIRM),
    "portal:token_revoke": Entry(
        "/app/firm/tokens/{token_key}/revoke/", NOT_ALLOWED_METHOD, write=KERNEL_NOT_FIRM_A
    ),
    # The invitation's token is the credential: whoever was sent the link may read it.
    "portal:invitation_accept": Entry("/app/invitations/{invitation_token}/", SIGNED_IN),
    "portal:asset_list": Entry("/app/assets/", KERNEL),
    "portal:asset_create": Entry("/app/assets/new/patent/", KERNEL, write=KERNEL_NO_FIRM),
    "portal:asset_detail": Entry("/app/assets/{asset}/", KERNEL_FIRM_A),
    "portal:asset_edit": Entry("/app/assets/{asset}/edit/", KERNEL_FIRM_A, write=KERNEL_NOT_FIRM_A),
    "portal:asset_delete": Entry(
        "/app/assets/{asset}/delete/", NOT_ALLOWED_METHOD, write=KERNEL_NOT_FIRM_A
    ),
    # Applications and quotes.
    "applications:list": Entry("/app/applications/", APPLICANTS),
    "applications:start": Entry(
        "/app/applications/start/{product_code}/",
        APPLICANTS,
        write=refused(anon=LOGIN, uw=404, ch=404, ox=404, oy=404),
    ),
    "applications:detail": Entry("/app/applications/{quoted}/", FIRM_A),
    "applications:resume": Entry(
        "/app/applications/{draft}/continue/",
        row(LOGIN, To("/app/applications/{draft}/step/cover/"), 404, 404, 404, 404, 404),
    ),
    "applications:step": Entry("/app/applications/{draft}/step/cover/", FIRM_A, write=NOT_FIRM_A),
    "applications:submit": Entry(
        "/app/applications/{draft}/submit/", FIRM_A_WRITE, write=NOT_FIRM_A
    ),
    "applications:withdraw": Entry(
        "/app/applications/{quoted}/withdraw/", FIRM_A_WRITE, write=NOT_FIRM_A
    ),
    "applications:question_answer": Entry(
        "/app/applications/{asked}/questions/{question}/answer/", FIRM_A_WRITE, write=NOT_FIRM_A
    ),
    "applications:quote_accept": Entry(
        "/app/applications/{quoted}/quotes/{quote}/accept/",
        row(
            LOGIN, To("/app/applications/{quoted}/quotes/{quote}/notice/"), 404, 404, 404, 404, 404
        ),
        write=NOT_FIRM_A,
    ),
    "applications:quote_notice": Entry(
        "/app/applications/{quoted}/quotes/{quote}/notice/", FIRM_A, write=NOT_FIRM_A
    ),
    "applications:quote_pdf": Entry("/app/applications/{quoted}/quotes/{quote}/pdf/", FIRM_A),
    # Policies.
    "policies:list": Entry("/app/policies/", APPLICANTS),
    # The dashboard's card: empty without a firm.
    "policies:dashboard_card": Entry("/app/policies/dashboard-card/", SIGNED_IN),
    "policies:detail": Entry("/app/policies/{policy}/", FIRM_A),
    "policies:pay": Entry("/app/policies/{policy}/pay/", FIRM_A_WRITE, write=NOT_FIRM_A),
    "policies:sandbox_pay": Entry(
        "/app/policies/{policy}/pay/sandbox/",
        row(LOGIN, To("/app/policies/{policy}/"), 404, 404, 404, 404, 404),  # paid already
        write=NOT_FIRM_A,
    ),
    "policies:cancel": Entry("/app/policies/{policy}/cancel/", FIRM_A, write=NOT_FIRM_A),
    "policies:renew": Entry("/app/policies/{policy}/renew/", FIRM_A_WRITE, write=NOT_FIRM_A),
    "policies:document": Entry("/app/policies/{policy}/documents/{policy_document}/", FIRM_A),
    # Claims.
    "claims:list": Entry("/app/claims/", APPLICANTS),
    "claims:new": Entry("/app/claims/new/", APPLICANTS),
    "claims:notify": Entry("/app/claims/new/{policy}/", FIRM_A, write=NOT_FIRM_A),
    "claims:detail": Entry("/app/claims/{claim}/", FIRM_A),
    "claims:upload": Entry("/app/claims/{claim}/documents/", FIRM_A_WRITE, write=NOT_FIRM_A),
    "claims:documents_status": Entry("/app/claims/{claim}/documents/status/", FIRM_A),
    "claims:document_download": Entry(
        "/app/claims/{claim}/documents/{claim_document}/download/", FIRM_A
    ),
    "claims:document_preview": Entry(
        "/app/claims/{claim}/documents/{claim_document}/preview/", FIRM_A
    ),
    "claims:letter_download": Entry("/app/claims/{claim}/letters/{letter}/download/", FIRM_A),
    "claims:withdraw": Entry("/app/claims/{claim}/withdraw/", FIRM_A_WRITE, write=NOT_FIRM_A),
    "claims:reinstate": Entry("/app/claims/reinstate/{policy}/", FIRM_A, write=NOT_FIRM_A),
    "claims:reinstate_quote": Entry("/app/claims/reinstate/{policy}/quote/", FIRM_A),
    # Subsidy requests, the applicant's side.
    "subsidies:list": Entry("/app/subsidies/", APPLICANTS),
    "subsidies:apply": Entry(
        "/app/subsidies/new/{policy}/{open_programme_code}/", FIRM_A, write=NOT_FIRM_A
    ),
    "subsidies:detail": Entry("/app/subsidies/{subsidy}/", FIRM_A),
    "subsidies:upload": Entry(
        "/app/subsidies/{subsidy}/documents/", FIRM_A_WRITE, write=NOT_FIRM_A
    ),
    "subsidies:document_download": Entry(
        "/app/subsidies/{subsidy}/documents/{subsidy_document}/download/", FIRM_A
    ),
    "subsidies:submit": Entry("/app/subsidies/{subsidy}/submit/", FIRM_A_WRITE, write=NOT_FIRM_A),
    "subsidies:answer": Entry("/app/subsidies/{subsidy}/answer/", FIRM_A_WRITE, write=NOT_FIRM_A),
    "subsidies:withdraw": Entry(
        "/app/subsidies/{subsidy}/withdraw/", FIRM_A_WRITE, write=NOT_FIRM_A
    ),
    # The officers' workspace.
    "officer:home": Entry("/officer/", OFFICERS),
    "officer:summary": Entry("/officer/summary/", OFFICERS),
    "officer:queue": Entry("/officer/requests/", OFFICERS),
    # Authority Y's officer ticking authority X's request approves nothing.
    "officer:approve_many": Entry(
        "/officer/requests/approve/",
        OFFICER_WRITE,
        write={**NOT_OFFICERS, "oy": To("/officer/requests/")},
        data={"request": ["{subsidy}"]},
    ),
    "officer:request": Entry("/officer/requests/{subsidy}/", AUTHORITY_X),
    "officer:request_document": Entry(
        "/officer/requests/{subsidy}/documents/{subsidy_document}/", AUTHORITY_X
    ),
    "officer:approve": Entry(
        "/officer/requests/{subsidy}/approve/", OFFICER_WRITE, write=NOT_AUTHORITY_X
    ),
    "officer:reject": Entry(
        "/officer/requests/{subsidy}/reject/", OFFICER_WRITE, write=NOT_AUTHORITY_X
    ),
    "officer:return": Entry(
        "/officer/requests/{subsidy}/return/", OFFICER_WRITE, write=NOT_AUTHORITY_X
    ),
    "officer:publish": Entry(
        "/officer/requests/{subsidy}/publish/", OFFICER_WRITE, write=NOT_AUTHORITY_X
    ),
    "officer:objection": Entry(
        "/officer/requests/{subsidy}/objection/", OFFICER_WRITE, write=NOT_AUTHORITY_X
    ),
    "officer:claw_back": Entry(
        "/officer/requests/{batched}/claw-back/", OFFICER_WRITE, write=NOT_AUTHORITY_X
    ),
    "officer:budget": Entry("/officer/budget/", OFFICERS),
    "officer:batches": Entry("/officer/batches/", OFFICERS),
    "officer:batch_new": Entry("/officer/batches/new/", OFFICERS, write=NOT_OFFICERS),
    "officer:batch": Entry("/officer/batches/{batch}/", AUTHORITY_X),
    "officer:batch_paid": Entry(
        "/officer/batches/{batch}/paid/", OFFICER_WRITE, write=NOT_AUTHORITY_X
    ),
    "officer:batch_csv": Entry("/officer/batches/{batch}/export.csv", AUTHORITY_X),
    "officer:batch_xlsx": Entry("/officer/batches/{batch}/export.xlsx", AUTHORITY_X),
    "officer:reports": Entry("/officer/reports/", OFFICERS),
    "officer:reports_csv": Entry("/officer/reports/monthly.csv", OFFICERS),
    "officer:tokens": Entry("/officer/tokens/", OFFICERS, write=NOT_OFFICERS),
    "officer:token_revoke": Entry(
        "/officer/tokens/{officer_token_key}/revoke/", NOT_ALLOWED_METHOD, write=NOT_AUTHORITY_X
    ),
    # The REST API: 401 without credentials; scoped like the pages.
    "api-schema": Entry("/api/schema/", EVERYONE),
    "api-docs": Entry("/api/docs/", EVERYONE),
    "api:me": Entry("/api/v1/me/", SIGNED_IN),
    "api:tokens": Entry("/api/v1/tokens/", SIGNED_IN),  # one's own tokens
    "api:token-detail": Entry(
        "/api/v1/tokens/{token_key}/",
        row(LOGIN, 405, 405, 405, 405, 405, 405),
        write=NOT_FIRM_A,
        method="delete",
    ),
    "api:products": Entry("/api/v1/products/", EVERYONE),
    "api:product": Entry("/api/v1/products/{product_code}/", EVERYONE),
    "api:product-premium": Entry("/api/v1/products/{product_code}/premium/", NOT_ALLOWED_METHOD),
    "api:riders": Entry("/api/v1/riders/", EVERYONE),
    # "Bad request" without a number and a code, for anyone.
    "api:verify": Entry("/api/v1/verify/", row(*[400] * 7)),
    # Lists answer everyone signed in, each with their own firm's rows only (none for staff and
    # officers, who are no firm's members).
    "api:assets": Entry("/api/v1/assets/", SIGNED_IN),
    "api:applications": Entry("/api/v1/applications/", SIGNED_IN),
    "api:policies": Entry("/api/v1/policies/", SIGNED_IN),
    "api:claim-list": Entry("/api/v1/claims/", SIGNED_IN),
    "api:subsidy-list": Entry("/api/v1/subsidy-requests/", SIGNED_IN),
    "api:application": Entry("/api/v1/applications/{quoted}/", FIRM_A),
    "api:application-cover": Entry(
        "/api/v1/applications/{draft}/cover/", FIRM_A_WRITE, write=NOT_FIRM_A, method="put"
    ),
    "api:application-valuation": Entry(
        "/api/v1/applications/{draft}/valuation/{asset}/",
        FIRM_A_WRITE,
        write=NOT_FIRM_A,
        method="put",
    ),
    "api:application-risk": Entry(
        "/api/v1/applications/{draft}/risk/", FIRM_A_WRITE, write=NOT_FIRM_A, method="put"
    ),
    "api:application-questionnaires": Entry("/api/v1/applications/{draft}/questionnaires/", FIRM_A),
    "api:application-submit": Entry(
        "/api/v1/applications/{draft}/submit/", FIRM_A_WRITE, write=NOT_FIRM_A
    ),
    "api:application-withdraw": Entry(
        "/api/v1/applications/{quoted}/withdraw/", FIRM_A_WRITE, write=NOT_FIRM_A
    ),
    "api:application-question-answer": Entry(
        "/api/v1/applications/{asked}/questions/{question}/answer/",
        FIRM_A_WRITE,
        write=NOT_FIRM_A,
    ),
    "api:application-quotes": Entry("/api/v1/applications/{quoted}/quotes/", FIRM_A),
    "api:quote": Entry("/api/v1/quotes/{quote}/", FIRM_A),
    "api:quote-exclusion-notice": Entry("/api/v1/quotes/{quote}/exclusion-notice/", FIRM_A),
    "api:quote-acknowledgement": Entry(
        "/api/v1/quotes/{quote}/acknowledgement/", FIRM_A_WRITE, write=NOT_FIRM_A
    ),
    "api:policy": Entry("/api/v1/policies/{policy}/", FIRM_A),
    "api:policy-document": Entry("/api/v1/policies/{policy}/document/", FIRM_A),
    "api:policy-pay": Entry("/api/v1/policies/{policy}/pay/", FIRM_A_WRITE, write=NOT_FIRM_A),
    "api:claim-detail": Entry("/api/v1/claims/{claim}/", FIRM_A),
    "api:claim-documents": Entry(
        "/api/v1/claims/{claim}/documents/", FIRM_A_WRITE, write=NOT_FIRM_A
    ),
    "api:claim-document-file": Entry(
        "/api/v1/claims/{claim}/documents/{claim_document}/file/", FIRM_A
    ),
    "api:claim-letter-file": Entry("/api/v1/claims/{claim}/letters/{letter}/file/", FIRM_A),
    "api:claim-withdraw": Entry("/api/v1/claims/{claim}/withdraw/", FIRM_A_WRITE, write=NOT_FIRM_A),
    "api:policy-subsidy-programmes": Entry("/api/v1/policies/{policy}/subsidy-programmes/", FIRM_A),
    "api:subsidy-detail": Entry("/api/v1/subsidy-requests/{subsidy}/", FIRM_A),
    "api:subsidy-documents": Entry(
        "/api/v1/subsidy-requests/{subsidy}/documents/", FIRM_A_WRITE, write=NOT_FIRM_A
    ),
    "api:subsidy-document-file": Entry(
        "/api/v1/subsidy-requests/{subsidy}/documents/{subsidy_document}/file/", FIRM_A
    ),
    "api:subsidy-submit": Entry(
        "/api/v1/subsidy-requests/{subsidy}/submit/", FIRM_A_WRITE, write=NOT_FIRM_A
    ),
    "api:subsidy-answer": Entry(
        "/api/v1/subsidy-requests/{subsidy}/answer/", FIRM_A_WRITE, write=NOT_FIRM_A
    ),
    "api:subsidy-withdraw": Entry(
        "/api/v1/subsidy-requests/{subsidy}/withdraw/", FIRM_A_WRITE, write=NOT_FIRM_A
    ),
    "api:officer-request-list": Entry("/api/v1/officer/requests/", OFFICERS),
    "api:officer-request-approve-many": Entry(
        "/api/v1/officer/requests/approve-many/",
        OFFICER_WRITE,
        write={**NOT_OFFICERS, "oy": 200},  # answered "not found", nothing approved
        data={"ids": ["{subsidy}"]},
        json=True,
    ),
    "api:officer-request-detail": Entry("/api/v1/officer/requests/{subsidy}/", AUTHORITY_X),
    "api:officer-request-decision": Entry(
        "/api/v1/officer/requests/{subsidy}/decision/", OFFICER_WRITE, write=NOT_AUTHORITY_X
    ),
    "api:officer-request-publish": Entry(
        "/api/v1/officer/requests/{subsidy}/publish/", OFFICER_WRITE, write=NOT_AUTHORITY_X
    ),
    "api:officer-request-objections": Entry(
        "/api/v1/officer/requests/{subsidy}/objections/", OFFICER_WRITE, write=NOT_AUTHORITY_X
    ),
    "api:officer-request-document-file": Entry(
        "/api/v1/officer/requests/{subsidy}/documents/{subsidy_document}/file/", AUTHORITY_X
    ),
    "api:officer-batch-list": Entry("/api/v1/officer/batches/", OFFICERS, write=NOT_OFFICERS),
    "api:officer-batch-detail": Entry("/api/v1/officer/batches/{batch}/", AUTHORITY_X),
    "api:officer-batch-paid": Entry(
        "/api/v1/officer/batches/{batch}/paid/", OFFICER_WRITE, write=NOT_AUTHORITY_X
    ),
    # The admin site's own pages. Its login is allauth's: visitors go there, signed-in users who
    # are not staff are refused, staff go on to the index.
    "admin:index": Entry("/admin/", staff(200, 200)),
    "admin:login": Entry(
        "/admin/login/",
        row(To("/accounts/login/"), 403, 403, To("/admin/"), To("/admin/"), 403, 403),
    ),
    # Logging out is a POST; the admin sends everyone else back to its index first.
    "admin:logout": Entry("/admin/logout/", {**row(*[To("/admin/")] * 7), "uw": 405, "ch": 405}),
    "admin:password_change": Entry("/admin/password_change/", staff(200, 200)),
    "admin:password_change_done": Entry("/admin/password_change/done/", staff(200, 200)),
    # Without the field it completes, the autocomplete refuses.
    "admin:autocomplete": Entry("/admin/autocomplete/", staff(403, 403)),
    "admin:jsi18n": Entry("/admin/jsi18n/", staff(200, 200)),
    # Policies have no public page to be shown "on site".
    "admin:view_on_site": Entry("/admin/r/{policy_content_type}/{policy}/", staff(404, 404)),
    "admin:app_list": Entry("/admin/underwriting/", staff(200, 200)),
    "admin/(?P<url>.*)$": Entry("/admin/no-such-page/", staff(404, 404)),
    "admin:auth_user_password_change": Entry(
        "/admin/portal/user/{user}/password/", staff(403, 403), write=NOT_SENIOR
    ),
    "admin:underwriting_clauseversion_compare": Entry(
        "/admin/underwriting/clauseversion/{clause_version}/compare/{clause_version}/",
        staff(200, 200),
    ),
    "admin:underwriting_application_assign": Entry(
        "/admin/underwriting/application/{referred}/assign/",
        UNDERWRITING_ACTION,
        write=NOT_UNDERWRITER,
    ),
    "admin:underwriting_application_terms": Entry(
        "/admin/underwriting/application/{referred}/terms/",
        UNDERWRITING_ACTION,
        write=NOT_UNDERWRITER,
    ),
    "admin:underwriting_application_decline": Entry(
        "/admin/underwriting/application/{referred}/decline/",
        UNDERWRITING_ACTION,
        write=NOT_UNDERWRITER,
    ),
    "admin:underwriting_application_ask": Entry(
        "/admin/underwriting/application/{referred}/ask/",
        UNDERWRITING_ACTION,
        write=NOT_UNDERWRITER,
    ),
    # Approving a quote above an underwriter's authority is the senior underwriter's.
    "admin:underwriting_quote_approve": Entry(
        "/admin/underwriting/quote/{quote}/approve/",
        staff(403, 403),
        write=NOT_SENIOR,
    ),
    "admin:underwriting_quote_reject": Entry(
        "/admin/underwriting/quote/{quote}/reject/",
        staff(403, 403),
        write=NOT_SENIOR,
    ),
    # Underwriters book bank transfers (nothing is due on this policy: back to it).
    "admin:underwriting_policy_record_payment": Entry(
        "/admin/underwriting/policy/{policy}/record-payment/",
        staff(To("/admin/underwriting/policy/{policy}/change/"), 403),
        write=NOT_UNDERWRITER,
    ),
    # Endorsing and cancelling on the insurer's behalf are the senior underwriter's.
    "admin:underwriting_policy_endorse": Entry(
        "/admin/underwriting/policy/{policy}/endorse/",
        staff(403, 403),
        write=NOT_SENIOR,
    ),
    "admin:underwriting_policy_cancel": Entry(
        "/admin/underwriting/policy/{policy}/cancel/",
        staff(403, 403),
        write=NOT_SENIOR,
    ),
    "admin:underwriting_policy_document": Entry(
        "/admin/underwriting/policy/{policy}/documents/{policy_document}/", staff(200, 200)
    ),
    "admin:underwriting_acknowledgement_print": Entry(
        "/admin/underwriting/acknowledgement/{acknowledgement}/print/", staff(200, 200)
    ),
    "admin:claims_claim_dashboard": Entry("/admin/claims/claim/dashboard/", staff(200, 200)),
    # Underwriters read claims, not the documents and letters in them.
    "admin:claims_claim_document": Entry(
        "/admin/claims/claim/{claim}/documents/{claim_document}/", CLAIMS_ACTION
    ),
    "admin:claims_claim_document_preview": Entry(
        "/admin/claims/claim/{claim}/documents/{claim_document}/preview/", CLAIMS_ACTION
    ),
    "admin:claims_claim_letter": Entry(
        "/admin/claims/claim/{claim}/letters/{letter}/", CLAIMS_ACTION
    ),
    "admin:claims_claim_assign": Entry(
        "/admin/claims/claim/{claim}/assign/", CLAIMS_ACTION, write=NOT_HANDLER
    ),
    "admin:claims_claim_reserve": Entry(
        "/admin/claims/claim/{claim}/reserve/", CLAIMS_ACTION, write=NOT_HANDLER
    ),
    "admin:claims_claim_request_documents": Entry(
        "/admin/claims/claim/{claim}/request-documents/", CLAIMS_ACTION, write=NOT_HANDLER
    ),
    "admin:claims_claim_documents_complete": Entry(
        "/admin/claims/claim/{claim}/documents-complete/", CLAIMS_ACTION, write=NOT_HANDLER
    ),
    # A claim just reported cannot be assessed, decided, settled or paid yet: back to it.
    "admin:claims_claim_assess": Entry(
        "/admin/claims/claim/{claim}/assess/", staff(403, BACK_TO_CLAIM), write=NOT_HANDLER
    ),
    "admin:claims_claim_decide": Entry(
        "/admin/claims/claim/{claim}/decide/", staff(403, BACK_TO_CLAIM), write=NOT_HANDLER
    ),
    "admin:claims_claim_settle": Entry(
        "/admin/claims/claim/{claim}/settle/", staff(403, BACK_TO_CLAIM), write=NOT_HANDLER
    ),
    "admin:claims_claim_payment": Entry(
        "/admin/claims/claim/{claim}/payment/", staff(403, BACK_TO_CLAIM), write=NOT_HANDLER
    ),
    "admin:claims_claim_reopen": Entry(
        "/admin/claims/claim/{paid_claim}/reopen/", CLAIMS_ACTION, write=NOT_HANDLER
    ),
    # Subrogation is under way on the paid claim already: back to it.
    "admin:claims_claim_subrogation": Entry(
        "/admin/claims/claim/{paid_claim}/subrogation/",
        staff(403, To("/admin/claims/claim/{paid_claim}/change/")),
        write=NOT_HANDLER,
    ),
    "admin:claims_claim_recovery": Entry(
        "/admin/claims/claim/{paid_claim}/recovery/", CLAIMS_ACTION, write=NOT_HANDLER
    ),
    "admin:claims_reinstatement_decide": Entry(
        "/admin/claims/reinstatement/{reinstatement}/decide/", CLAIMS_ACTION, write=NOT_HANDLER
    ),
    **_admin_entries(),
}


# --- Walking the URLconf --------------------------------------------------------------------------


def _join(prefix: str, route: str) -> str:
    # As Django joins the routes of nested patterns (ResolverMatch.route).
    return prefix + route.removeprefix("^") if prefix else route


def url_patterns(resolver=None, prefix: str = "", namespace: str | None = None) -> dict:
    """Every pattern of the URLconf: ``namespace:name``, or the full route for unnamed ones."""
    found = {}
    for pattern in (resolver or get_resolver()).url_patterns:
        route = _join(prefix, str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            found.update(url_patterns(pattern, route, inner))
        elif isinstance(pattern, URLPattern):
            name = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
            found[name or route] = route
    return found


def coverage_problems(patterns: dict) -> list[str]:
    problems = [
        f"URL pattern {key!r} ({patterns[key]}) has no entry in EXPECTED: decide who may open it"
        for key in sorted(set(patterns) - set(EXPECTED))
    ]
    problems += [
        f"EXPECTED has an entry for {key!r}, which is no longer a URL pattern"
        for key in sorted(set(EXPECTED) - set(patterns))
    ]
    return problems


def _key_of(url: str) -> str:
    try:
        match = resolve(url)
    except Resolver404:
        return "nothing"
    return match.view_name if match.url_name else match.route


class _Any(dict):
    def __missing__(self, key):
        return "1"


def test_every_url_pattern_has_an_entry_and_every_entry_a_pattern():
    patterns = url_patterns()
    problems = coverage_problems(patterns)
    # Each entry's URL reaches the pattern it is filed under.
    for key, entry in EXPECTED.items():
        if key not in patterns:
            continue
        url = string.Formatter().vformat(entry.url, (), _Any())
        reached = _key_of(url)
        if reached != key:
            problems.append(f"{key!r}: its URL {entry.url} reaches {reached!r}")
        if set(entry.get) != set(PERSONAS):
            problems.append(f"{key!r}: the row must name all of {PERSONAS}")
    assert not problems, "\n".join(problems)


# --- Checking one response ------------------------------------------------------------------------


def _area(url: str) -> str:
    if url.startswith("/admin/"):
        return "admin"
    if url.startswith("/api/"):
        return "api"
    return "site"


def outcome_problem(response, expected, url: str) -> str | None:
    status = response.status_code
    location = response.get("Location", "")
    if expected == LOGIN:
        if _area(url) == "api":
            ok = status == 401 and response["Content-Type"].startswith("application/json")
        else:
            login = "/admin/login/" if _area(url) == "admin" else "/accounts/login/"
            ok = status == 302 and location.split("?")[0] == login
    elif isinstance(expected, To):
        ok = status == 302 and location.split("?")[0] == expected.path
    else:
        ok = status == expected
    if ok:
        return None
    got = f"{status} → {location}" if location else str(status)
    return f"expected {expected}, got {got}"


def _directives(policy: str) -> dict:
    parsed = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0].lower()] = words[1:]
    return parsed


def header_problems(response) -> list[str]:
    problems = []
    if response.get("X-Content-Type-Options") != "nosniff":
        problems.append("X-Content-Type-Options is not nosniff")
    if not response.get("Referrer-Policy"):
        problems.append("no Referrer-Policy")
    policy = response.get("Content-Security-Policy", "")
    directives = _directives(policy)
    if not policy:
        problems.append("no Content-Security-Policy")
    else:
        scripts = directives.get("script-src", directives.get("default-src"))
        if scripts is None:
            problems.append("the CSP restricts neither script-src nor default-src")
        elif {"'unsafe-inline'", "'unsafe-eval'"} & set(scripts):
            problems.append(f"the CSP allows inline or eval'd script: {policy}")
    framing_forbidden = (
        response.get("X-Frame-Options") == "DENY"
        or directives.get("frame-ancestors") == ["'none'"]
        or "sandbox" in directives
    )
    if not framing_forbidden:
        problems.append("may be framed: no X-Frame-Options DENY, frame-ancestors or sandbox")
    return problems


def _body(response) -> str:
    if response.streaming:
        # Read through the test client's wrapper, which closes the file without closing the
        # test's database connection as a real request's end would.
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _sees_firm_a(persona: str, url: str) -> bool:
    """Whether the persona may legitimately see firm A's references on this URL."""
    if persona == "a":
        return True
    if url == "/app/notifications/" and persona in ("uw", "ch", "ox"):
        return True  # one's own notifications: staff and officers are told of firm A's business
    if persona in ("uw", "ch"):
        return url.startswith("/admin/")
    if persona == "ox":
        return url.startswith(("/officer/", "/api/v1/officer/"))
    return False


# --- Nothing changed ------------------------------------------------------------------------------


def fingerprint() -> dict:
    """The number of rows of every table (the history tables record every save of the business
    models), sessions aside: one query."""
    tables = [t for t in connection.introspection.table_names() if t not in ("django_session",)]
    quote = connection.ops.quote_name
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(t)})" for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(zip(tables, cursor.fetchone(), strict=True))


def _changed(before: dict, after: dict) -> list[str]:
    return [f"{t}: {before[t]} → {after[t]}" for t in before if before[t] != after[t]]


# --- The matrix -----------------------------------------------------------------------------------


@pytest.fixture
def catalogue(seeded_catalogue, db):  # noqa: F811 - the fixture imported above
    """The shared catalogue, committed once for the module (see tests/underwriting/conftest)."""


def test_permission_matrix(
    catalogue, firm_a, applicant_a, applicant_b, underwriter, claims_handler, officer_x, officer_y
):
    started, cpu = time.monotonic(), time.process_time()
    patterns = url_patterns()
    problems = coverage_problems(patterns)
    ids = build(
        firm_a=firm_a,
        applicant_a=applicant_a,
        underwriter=underwriter,
        claims_handler=claims_handler,
        officer_x=officer_x,
    )
    markers = ids["references"]
    users = {
        "a": applicant_a,
        "b": applicant_b,
        "uw": underwriter,
        "ch": claims_handler,
        "ox": officer_x,
        "oy": officer_y,
    }
    clients = {"anon": Client()}
    for persona, user in users.items():
        clients[persona] = Client()
        clients[persona].force_login(user)

    requests = writes = 0
    seen_by_a = set()

    def check(key, persona, response, expected, url, method="GET"):
        where = f"{key} [{method} {url}] as {persona}"
        problem = outcome_problem(response, expected, url)
        if problem:
            problems.append(f"{where}: {problem}")
        problems.extend(f"{where}: {p}" for p in header_problems(response))
        body = _body(response)
        # (An error page may repeat the URL asked for: what the URL holds is no news.)
        shown = [m for m in markers if m in body and m not in url]
        if persona == "a":
            seen_by_a.update(shown)
        elif shown and not _sees_firm_a(persona, url):
            problems.append(f"{where}: shows firm A's {', '.join(shown)}")

    # healthz pings the workers through the broker: one is said to answer, so that its status
    # does not depend on a worker running somewhere (the broker itself is reached for real).
    ping = mock.patch(
        "portal.celery.app.control.ping", return_value=[{"celery@matrix": {"ok": "pong"}}]
    )
    with ping:
        for key, entry in EXPECTED.items():
            if key not in patterns:
                continue
            url = entry.url.format(**ids)
            reached = _key_of(url)
            if reached != key:
                problems.append(f"{key}: {url} reaches {reached!r}")
                continue
            for persona in PERSONAS:
                response = clients[persona].get(url)
                requests += 1
                expected = entry.get[persona]
                if isinstance(expected, To):
                    expected = To(expected.path.format(**ids))
                check(key, persona, response, expected, url)
            if not entry.write:
                continue
            data = {
                name: [v.format(**ids) for v in value]
                if isinstance(value, list)
                else value.format(**ids)
                for name, value in (entry.data or {}).items()
            }
            if entry.json:
                data = {n: [int(v) for v in value] for n, value in data.items()}
            before = fingerprint()
            for persona, expected in entry.write.items():
                send = getattr(clients[persona], entry.method)
                if entry.json or entry.method in ("put", "delete"):
                    response = send(url, json.dumps(data), content_type="application/json")
                else:
                    response = send(url, data)
                writes += 1
                if isinstance(expected, To):
                    expected = To(expected.path.format(**ids))
                check(key, persona, response, expected, url, entry.method.upper())
            changes = _changed(before, fingerprint())
            if changes:
                problems.append(
                    f"{key}: a refused {entry.method.upper()} changed {'; '.join(changes)}"
                )
    # Each reference is one firm A's own pages show: looking for it elsewhere means something.
    problems.extend(
        f"firm A's reference {m} shows on none of its pages" for m in markers if m not in seen_by_a
    )
    print(
        f"\npermission matrix: {len(patterns)} patterns, {len(PERSONAS)} personas, "
        f"{requests} GETs and {writes} refused writes in {time.monotonic() - started:.1f}s "
        f"({time.process_time() - cpu:.1f}s of CPU)"
    )
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
