"""Hypothesis fuzzing of every form people submit: applicants, officers, staff in the admin,
visitors on the account pages.

Each form is found on its page (its field names, hidden fields and default values read from the
HTML), then POSTed again and again with generated values: text in any script, CJK, control
characters with NUL, huge and negative numbers, decimals with many digits, dates far in the
past or future, empty and very long strings, wrong choice values and ids beyond 2**63. Every
example runs in a savepoint that is rolled back, so each one meets the objects in the state the
form is meant for; a form whose object must first reach a later state (a claim agreed or paid,
a subsidy published or in a batch, a quote awaiting approval) gets it built inside its own test,
rolled back with it. Named submit buttons are sent with one of their values, or none. The
rules: never a server error; an invalid submission re-renders with its errors in Chinese (or
English when that is chosen), never Django's untranslated defaults.

At the end of the module a table of examples per form is printed (and written to
``$PORTAL_VAR_DIR/fuzz_examples.txt``).
"""

import os
import re
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.choices import AssetKind
from tests.claims.helpers import in_force_policy, notify_claim
from tests.factories import FirmFactory, MembershipFactory, UserFactory
from tests.subsidies.helpers import authority, officer_of, programme, submitted_request
from tests.underwriting.admin_helpers import staff
from tests.underwriting.application_helpers import acknowledge, filled_application, granted_patent
from tests.underwriting.conftest import seeded_catalogue  # noqa: F401 - shared fixture
from underwriting.models import UnderwriterAuthority

EXAMPLES = Counter()

# Django's own messages, which the catalogue translates: seen in a Chinese page they would mean
# an error text that escaped translation.
ENGLISH_DEFAULTS = (
    "This field is required.",
    "Enter a valid",
    "Select a valid choice",
    "Ensure this value",
    "Ensure that there are no more than",
    "Null characters are not allowed.",
    "Enter a whole number.",
    "Enter a number.",
)


# --- Hostile values ----------------------------------------------------------------------------

_ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
_CJK = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=30)
_CONTROL = st.text(st.characters(max_codepoint=0x1F), min_size=1, max_size=5)
_HUGE = st.sampled_from(
    [str(2**63), str(2**63 - 1), str(2**64), "-" + str(2**63 + 1), "9" * 40, "1e999999", "-1e400"]
)
_INTEGERS = st.integers(min_value=-(10**30), max_value=10**30).map(str)
_DECIMALS = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["0." + "0" * 60 + "1", "1" + "0" * 30 + ".99", "-0.001", "NaN", "-Infinity"]),
)
_DATES = st.one_of(
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
    st.sampled_from(["0000-00-00", "2026-02-30", "10000-01-01", "-1-01-01", "2026-13-01"]),
)
_SHAPES = st.sampled_from(
    [
        "",
        " ",
        "\u3000",
        "长" * 5000,
        "x" * 100_000,
        "__proto__",
        "none",
        "0",
        "-1",
        "99999999999999999999999",
        "on",
        "true",
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "{{ 7*7 }}",
        "javascript:alert(1)",
        "=cmd|' /C calc'!A0",
        "../../etc/passwd",
        "\u202egnp.exe",
        "²",
        "٣",
        "９",
        "1,²",
    ]
)
HOSTILE = st.one_of(_ANY_TEXT, _CJK, _CONTROL, _HUGE, _INTEGERS, _DECIMALS, _DATES, _SHAPES)


# --- Reading a form from its page -------------------------------------------------------------


class Buttons(list):
    """The values of a form's named submit buttons: a browser sends one of them, or none."""


class _FormReader(HTMLParser):
    """The fields of the POST forms of a page, by action, with their default values."""

    def __init__(self):
        super().__init__()
        self.forms = []  # (action, {name: default})
        self._current = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self._current = {}
            self.forms.append((attrs.get("action") or "", self._current))
        elif self._current is None:
            return
        elif tag == "button" and attrs.get("name"):
            if (attrs.get("type") or "submit").lower() == "submit":
                self._button(attrs["name"], attrs.get("value") or "")
        elif tag in ("input", "textarea") and attrs.get("name"):
            kind = (attrs.get("type") or "text").lower()
            if kind == "submit":
                self._button(attrs["name"], attrs.get("value") or "")
                return
            if kind in ("button", "file", "image"):
                return
            self._current.setdefault(attrs["name"], attrs.get("value") or "")
        elif tag == "select" and attrs.get("name"):
            self._select = attrs["name"]
            self._current.setdefault(self._select, "")
        elif tag == "option" and self._select and not self._current.get(self._select):
            self._current[self._select] = attrs.get("value") or ""

    def _button(self, name, value):
        buttons = self._current.setdefault(name, Buttons())
        if isinstance(buttons, Buttons):
            buttons.append(value)

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None


def form_fields(client, page, action):
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    reader = _FormReader()
    reader.feed(response.content.decode())
    matching = [
        names
        for form_action, names in reader.forms
        if re.split(r"[?#]", form_action)[0] in (action, "" if action == page else action)
    ]
    assert matching, f"no form posting to {action} on {page}"
    fields = {k: v for names in matching for k, v in names.items()}
    fields.pop("csrfmiddlewaretoken", None)
    return fields


# --- The objects every form works on (committed once for the module) -------------------------


@pytest.fixture(scope="module")
def world(seeded_catalogue, django_db_blocker):  # noqa: F811
    # The PDFs, document checks and letters are other modules' business, and slow to render.
    with (
        django_db_blocker.unblock(),
        mock.patch("claims.tasks.process_claim_document.delay"),
        mock.patch("underwriting.services.applications._enqueue_quietly"),
        mock.patch("underwriting.services.policies._enqueue_quietly"),
    ):
        firm = FirmFactory(name_zh="模糊测试公司", region_code="320214")
        owner = MembershipFactory(firm=firm, user__email="fuzz-owner@example.test").user
        newcomer = UserFactory(email="fuzz-newcomer@example.test")
        admin_user = staff("fuzz-admin@example.test", is_superuser=True)
        office = authority()
        officer = officer_of(office, "fuzz-officer@example.test")
        policy = in_force_policy(firm, owner)
        claim = notify_claim(policy, owner)
        draft = filled_application(firm, owner)
        referred = filled_application(firm, owner, risk={"sales_regions": ["cn", "us_ca"]})
        from underwriting import services as uw

        uw.application_submit(application=referred, actor=owner, declaration=True)
        quoted = filled_application(firm, owner)
        uw.application_submit(application=quoted, actor=owner, declaration=True)
        accepted = filled_application(firm, owner)
        uw.application_submit(application=accepted, actor=owner, declaration=True)
        awaiting = acknowledge(accepted.quotes.get(), owner)
        from subsidies import services as subsidy_services

        wuxi = programme(office)
        other = programme(office, code="wuxi-fuzz-other")
        queued = submitted_request(policy, wuxi, owner)
        second_policy = in_force_policy(firm, owner)
        # Claims in later states are built on this policy inside each test (and rolled back).
        claims_policy = in_force_policy(firm, owner)
        UnderwriterAuthority.objects.create(
            user=admin_user,
            max_sum_insured=Decimal("100000000"),
            max_adjustment_percent=Decimal("50"),
        )
        draft_request = subsidy_services.subsidy_request_create(
            policy=second_policy, programme=wuxi, actor=owner
        )
        return {
            "owner": owner,
            "newcomer": newcomer,
            "admin": admin_user,
            "officer": officer,
            "firm": firm,
            "asset": granted_patent(firm),
            "policy": policy,
            "claim": claim,
            "draft": draft,
            "referred": referred,
            "quoted": quoted,
            "quote": quoted.quotes.order_by("-pk").first(),
            "queued": queued,
            "draft_request": draft_request,
            "other_programme": other,
            "second_policy": second_policy,
            "claims_policy": claims_policy,
            "office": office,
            "awaiting": awaiting,
        }


@pytest.fixture(scope="module", autouse=True)
def example_table(request):
    yield
    lines = [f"{'form':<44} examples", *(f"{k:<44} {v}" for k, v in sorted(EXAMPLES.items()))]
    lines.append(f"{'total':<44} {sum(EXAMPLES.values())}")
    text = "\n".join(lines)
    var_dir = Path(os.environ.get("PORTAL_VAR_DIR", "var"))
    var_dir.mkdir(parents=True, exist_ok=True)
    (var_dir / "fuzz_examples.txt").write_text(text + "\n")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + text)


def _step_keys(client, application):
    html = client.get(f"/app/applications/{application.pk}/").content.decode()
    html += client.get(f"/app/applications/{application.pk}/step/cover/").content.decode()
    return sorted(set(re.findall(rf"/app/applications/{application.pk}/step/([\w-]+)/", html)))


# Each target: (persona, page that shows the form, where it posts). Built from the world.
def targets(w):
    claim, policy = w["claim"], w["policy"]
    queued, draft_request = w["queued"], w["draft_request"]
    officer_request = f"/officer/requests/{queued.pk}/"
    admin_claim = f"/admin/claims/claim/{claim.pk}/"
    admin_app = f"/admin/underwriting/application/{w['referred'].pk}/"
    admin_policy = f"/admin/underwriting/policy/{policy.pk}/"
    admin_awaiting = f"/admin/underwriting/policy/{w['awaiting'].pk}/"
    found = {
        "portal: firm register": ("newcomer", "/app/firms/new/", None),
        "portal: firm edit": ("owner", "/app/firm/edit/", None),
        "portal: firm invite": ("owner", "/app/firm/", "/app/firm/invite/"),
        "portal: api tokens": ("owner", "/app/firm/tokens/", None),
        "portal: asset edit": ("owner", f"/app/assets/{w['asset'].pk}/edit/", None),
        **{
            f"portal: asset new {kind}": ("owner", f"/app/assets/new/{kind}/", None)
            for kind in AssetKind.values
        },
        "underwriting: notice (accept quote)": (
            "owner",
            f"/app/applications/{w['quoted'].pk}/quotes/{w['quote'].pk}/notice/",
            None,
        ),
        "underwriting: verify policy": ("anonymous", "/verify/", None),
        "underwriting: premium calculator": (
            "anonymous",
            "/products/PAT-ENF/",
            "/products/PAT-ENF/premium/",
        ),
        "underwriting: policy cancel": ("owner", f"/app/policies/{policy.pk}/cancel/", None),
        "claims: notify": ("owner", f"/app/claims/new/{w['second_policy'].pk}/", None),
        "claims: upload (fields only)": (
            "owner",
            f"/app/claims/{claim.pk}/",
            f"/app/claims/{claim.pk}/documents/",
        ),
        "claims: withdraw": (
            "owner",
            f"/app/claims/{claim.pk}/",
            f"/app/claims/{claim.pk}/withdraw/",
        ),
        "subsidies: apply": (
            "owner",
            f"/app/subsidies/new/{policy.pk}/{w['other_programme'].code}/",
            None,
        ),
        "subsidies: upload (fields only)": (
            "owner",
            f"/app/subsidies/{draft_request.pk}/",
            f"/app/subsidies/{draft_request.pk}/documents/",
        ),
        "officer: approve": ("officer", officer_request, officer_request + "approve/"),
        "officer: reject": ("officer", officer_request, officer_request + "reject/"),
        "officer: return with a question": (
            "officer",
            officer_request,
            officer_request + "return/",
        ),
        "admin claims: assign": ("admin", admin_claim + "assign/", None),
        "admin claims: reserve": ("admin", admin_claim + "reserve/", None),
        "admin claims: request documents": ("admin", admin_claim + "request-documents/", None),
        "admin claims: documents complete": ("admin", admin_claim + "documents-complete/", None),
        "admin underwriting: decline": ("admin", admin_app + "decline/", None),
        "admin underwriting: ask": ("admin", admin_app + "ask/", None),
        "admin underwriting: terms": ("admin", admin_app + "terms/", None),
        "admin policy: record payment": ("admin", admin_awaiting + "record-payment/", None),
        "admin policy: endorse": ("admin", admin_policy + "endorse/", None),
        "admin policy: cancel": ("admin", admin_policy + "cancel/", None),
        "subsidies: withdraw": (
            "owner",
            f"/app/subsidies/{draft_request.pk}/",
            f"/app/subsidies/{draft_request.pk}/withdraw/",
        ),
        "officer: approve many": ("officer", "/officer/requests/", "/officer/requests/approve/"),
        "underwriting: start application": (
            "owner",
            "/app/applications/start/PAT-ENF/",
            None,
        ),
        "underwriting: application withdraw": (
            "owner",
            f"/app/applications/{w['draft'].pk}/",
            f"/app/applications/{w['draft'].pk}/withdraw/",
        ),
        "underwriting: pay a policy": (
            "owner",
            f"/app/policies/{w['awaiting'].pk}/",
            f"/app/policies/{w['awaiting'].pk}/pay/",
        ),
        "portal: asset delete": (
            "owner",
            f"/app/assets/{w['asset'].pk}/",
            f"/app/assets/{w['asset'].pk}/delete/",
        ),
        "portal: notifications": ("owner", "/app/notifications/", None),
        "portal: language switch": ("owner", "/app/", "/i18n/setlang/"),
        "admin underwriting: assign": ("admin", admin_app + "assign/", None),
        "allauth: sign up": ("anonymous", "/accounts/signup/", None),
        "allauth: log in": ("anonymous", "/accounts/login/", None),
        "allauth: password reset": ("anonymous", "/accounts/password/reset/", None),
    }
    return found


TARGET_NAMES = [
    "portal: firm register",
    "portal: firm edit",
    "portal: firm invite",
    "portal: api tokens",
    "portal: asset edit",
    *(f"portal: asset new {kind}" for kind in AssetKind.values),
    "underwriting: notice (accept quote)",
    "underwriting: verify policy",
    "underwriting: premium calculator",
    "underwriting: policy cancel",
    "claims: notify",
    "claims: upload (fields only)",
    "claims: withdraw",
    "subsidies: apply",
    "subsidies: upload (fields only)",
    "officer: approve",
    "officer: reject",
    "officer: return with a question",
    "admin claims: assign",
    "admin claims: reserve",
    "admin claims: request documents",
    "admin claims: documents complete",
    "admin underwriting: decline",
    "admin underwriting: ask",
    "admin underwriting: terms",
    "admin policy: record payment",
    "admin policy: endorse",
    "admin policy: cancel",
    "subsidies: withdraw",
    "officer: approve many",
    "underwriting: start application",
    "underwriting: application withdraw",
    "underwriting: pay a policy",
    "portal: asset delete",
    "portal: notifications",
    "portal: language switch",
    "admin underwriting: assign",
    "allauth: sign up",
    "allauth: log in",
    "allauth: password reset",
]
# Chosen so the whole module (78 forms) takes under two minutes per database on two cores;
# FUZZ_EXAMPLES changes them for a longer hunt.
EXAMPLES_PER_FORM = int(os.environ.get("FUZZ_EXAMPLES", "40"))
# Forms whose every submission re-rates or re-renders a large page get fewer.
SLOW_FORMS = {"admin underwriting: terms": 3, "admin policy: endorse": 2}


def fuzz(name):
    return settings(
        max_examples=max(1, EXAMPLES_PER_FORM * SLOW_FORMS.get(name, 6) // 6),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def _client_for(world, persona, language=None):
    client = Client()
    if persona != "anonymous":
        client.force_login(world[persona])
    if language:
        client.cookies["portal_language"] = language
    return client


def _submit(client, url, data):
    """POST in a savepoint rolled back afterwards: the next example meets the same state."""
    cache.clear()  # rate limits (login, verification) would otherwise answer every later example
    with (
        transaction.atomic(),
        mock.patch("claims.tasks.process_claim_document.delay"),
        mock.patch("subsidies.tasks.check_eligibility.delay"),
    ):
        response = client.post(url, data)
        transaction.set_rollback(True)
    return response


def _check(response, name, language="zh-hans"):
    assert response.status_code < 500, (name, response.status_code)
    if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
        return
    page = response.content.decode()
    if language == "zh-hans":
        assert 'lang="zh-hans"' in page
        leaked = [text for text in ENGLISH_DEFAULTS if text in page]
        assert not leaked, (name, leaked)


def _fields_and_values(data, defaults, name):
    """Each field gets its page default or a hostile value; sometimes a list, sometimes absent."""
    values = {}
    for field, default in defaults.items():
        choice = data.draw(st.sampled_from(["hostile", "hostile", "default", "list", "absent"]))
        if choice == "hostile":
            values[field] = data.draw(HOSTILE, label=field)
        elif isinstance(default, Buttons):
            if choice != "absent":
                values[field] = data.draw(st.sampled_from(default), label=field)
        elif choice == "default":
            values[field] = default
        elif choice == "list":
            values[field] = data.draw(st.lists(HOSTILE, min_size=1, max_size=3), label=field)
    # A field the form does not know, with a name no form has.
    if data.draw(st.booleans()):
        values[data.draw(_ANY_TEXT.filter(lambda s: "\x00" not in s), label="extra")] = "x"
    return values


def _fuzz_form(world, name, persona, page, action):
    """Reads the form's fields from its page, then posts Hypothesis' values to it."""
    action = action or page
    client = _client_for(world, persona)
    defaults = form_fields(client, page, action)

    @fuzz(name)
    @given(data=st.data())
    def run(data):
        EXAMPLES[name] += 1
        _check(_submit(client, action, _fields_and_values(data, defaults, name)), name)

    run()


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_fuzz_form(name, world, db):
    persona, page, action = targets(world)[name]
    _fuzz_form(world, name, persona, page, action)


# --- Forms whose object must first reach a later state ------------------------------------------
# Each builder runs inside the test's own transaction (rolled back after it), so these states
# never leak into other forms: (persona, page, where it posts).

CLAIM_DOCUMENTS = [
    "policy",
    "claim_notice",
    "patent_certificate",
    "filing_acceptance",
    "expense_invoices",
]
CLAIM_STAGES = ["under_assessment", "accepted", "settled", "paid", "subrogation"]


def claim_at(w, stage):
    from claims import services as claims

    admin_user, owner = w["admin"], w["owner"]
    claim = notify_claim(w["claims_policy"], owner)
    claims.claim_documents_complete(claim=claim, actor=admin_user, waived=CLAIM_DOCUMENTS)
    reached = CLAIM_STAGES[: CLAIM_STAGES.index(stage) + 1]
    if "accepted" in reached:
        claims.claim_assess(
            claim=claim,
            actor=admin_user,
            items=[
                {
                    "loss": "100000",
                    "insured_value": None,
                    "sum_insured": "50000",
                    "salvage": "0",
                    "mitigation_costs": "0",
                }
            ],
            note="模糊测试",
        )
        claims.claim_decide(claim=claim, actor=admin_user, decision="accept")
    if "settled" in reached:
        claims.claim_settle(claim=claim, actor=admin_user)
    if "paid" in reached:
        claim.refresh_from_db()
        claims.claim_payment_record(
            claim=claim,
            actor=admin_user,
            kind="final",
            amount=claim.amount_agreed,
            reference=f"FUZZ-{claim.pk}",
        )
    if "subrogation" in reached:
        claims.subrogation_start(claim=claim, actor=admin_user, liable_party="仿冒阀门有限公司")
    claim.refresh_from_db()
    assert claim.status == stage if stage != "subrogation" else claim.status == "paid"
    return claim


def _admin_claim(stage, action):
    def build(w):
        claim = claim_at(w, stage)
        url = f"/admin/claims/claim/{claim.pk}/{action}/"
        return "admin", url, None

    return build


def _reinstatement_decide(w):
    from claims import services as claims

    claim_at(w, "paid")
    reinstatement = claims.reinstatement_request(
        policy=w["claims_policy"], actor=w["owner"], amount=Decimal("10000")
    )
    return "admin", f"/admin/claims/reinstatement/{reinstatement.pk}/decide/", None


def _reinstate(w):
    claim_at(w, "paid")
    policy = w["claims_policy"]
    return "owner", f"/app/claims/reinstate/{policy.pk}/", None


_PROGRAMMES = Counter()


def subsidy_at(w, stage):
    """A request of the world's policy, under a programme of its own, in ``stage``."""
    from subsidies import services as subsidies

    officer, owner = w["officer"], w["owner"]
    _PROGRAMMES[stage] += 1
    prog = programme(w["office"], code=f"fuzz-{stage}-{_PROGRAMMES[stage]}")
    request = submitted_request(w["policy"], prog, owner)
    if stage == "returned":
        return subsidies.subsidy_return(request=request, actor=officer, question="请补充发票。")
    subsidies.subsidy_approve(request=request, actor=officer)
    if stage == "approved":
        return request
    ended = timezone.localdate() - timedelta(days=30)
    request = subsidies.subsidy_publish(
        request=request, actor=officer, today=None if stage == "publicised" else ended
    )
    if stage in ("publicised", "published"):
        return request
    batch = subsidies.batch_create(actor=officer, request_ids=[request.pk])
    if stage == "batched":
        return batch
    subsidies.batch_mark_paid(batch=batch, actor=officer, reference="TREASURY-FUZZ")
    return request


def _officer_request(stage, action):
    def build(w):
        request = subsidy_at(w, stage)
        page = f"/officer/requests/{request.pk}/"
        return "officer", page, page + action

    return build


def _batch_paid(w):
    batch = subsidy_at(w, "batched")
    return "officer", f"/officer/batches/{batch.pk}/", f"/officer/batches/{batch.pk}/paid/"


def _batch_new(w):
    subsidy_at(w, "published")
    return "officer", "/officer/batches/new/", None


def _subsidy_answer(w):
    request = subsidy_at(w, "returned")
    page = f"/app/subsidies/{request.pk}/"
    return "owner", page, page + "answer/"


def _pending_quote(w):
    from underwriting import services as uw

    underwriter = staff("fuzz-underwriter@example.test", "underwriter")
    UnderwriterAuthority.objects.create(
        user=underwriter, max_sum_insured=Decimal("1000000"), max_adjustment_percent=Decimal("20")
    )
    application = filled_application(w["firm"], w["owner"], risk={"sales_regions": ["cn", "us_ca"]})
    uw.application_submit(application=application, actor=w["owner"], declaration=True)
    section = application.clause_version.rating_sections.order_by("position", "id").first()
    quote = uw.underwriter_quote(
        application=application, actor=underwriter, limits={section.code: "2000000"}
    )
    assert quote.status == "pending_approval"
    return quote


def _quote_action(action):
    def build(w):
        quote = _pending_quote(w)
        return "admin", f"/admin/underwriting/quote/{quote.pk}/{action}/", None

    return build


def _question_answer(w):
    from underwriting import services as uw

    application = w["referred"]
    question = uw.application_ask(
        application=application, actor=w["admin"], question="贵司在美国的销售额是多少？"
    )
    page = f"/app/applications/{application.pk}/"
    return "owner", page, f"{page}questions/{question.pk}/answer/"


def _firm_switch(w):
    switcher = UserFactory(email="fuzz-switcher@example.test")
    MembershipFactory(firm=w["firm"], user=switcher)
    MembershipFactory(firm=FirmFactory(name_zh="第二家公司"), user=switcher)
    w["switcher"] = switcher
    return "switcher", "/app/", "/app/firms/switch/"


def _sandbox_payment(w):
    client = _client_for(w, "owner")
    started = client.post(f"/app/policies/{w['awaiting'].pk}/pay/")
    assert started.status_code == 302 and "/pay/sandbox/" in started.url, started
    return "owner", started.url, None


def _member_remove(w):
    member = MembershipFactory(firm=w["firm"], user__email="fuzz-member@example.test")
    return "owner", "/app/firm/", f"/app/firm/members/{member.pk}/remove/"


def _invitation_revoke(w):
    from portal import services as portal

    invitation = portal.invitation_create(
        firm=w["firm"], actor=w["owner"], email="fuzz-invited@example.test", role="member"
    )
    return "owner", "/app/firm/", f"/app/firm/invitations/{invitation.pk}/revoke/"


def _token_revoke(w):
    from portal import api

    token, _secret = api.api_token_create(user=w["owner"])
    return "owner", "/app/firm/tokens/", f"/app/firm/tokens/{token.token_key}/revoke/"


def _subsidy_submit(w):
    from subsidies import services as subsidies
    from tests.subsidies.helpers import upload

    _PROGRAMMES["draft"] += 1
    prog = programme(w["office"], code=f"fuzz-draft-{_PROGRAMMES['draft']}")
    request = subsidies.subsidy_request_create(policy=w["policy"], programme=prog, actor=w["owner"])
    for position, document in enumerate(prog.required_documents):
        subsidies.subsidy_document_upload(
            request=request,
            actor=w["owner"],
            code=document["code"],
            uploaded_file=upload(salt=b"fuzz-%d-%d" % (request.pk, position)),
        )
    page = f"/app/subsidies/{request.pk}/"
    return "owner", page, page + "submit/"


def _application_submit(w):
    application = w["draft"]
    page = f"/app/applications/{application.pk}/step/review/"
    return "owner", page, f"/app/applications/{application.pk}/submit/"


def _policy_renew(w):
    from underwriting.models import Policy

    policy = w["claims_policy"]
    Policy.objects.filter(pk=policy.pk).update(end_date=timezone.localdate() + timedelta(days=10))
    page = f"/app/policies/{policy.pk}/"
    return "owner", page, page + "renew/"


def _invitation_accept(w):
    from portal import services as portal

    invitation = portal.invitation_create(
        firm=w["firm"], actor=w["owner"], email=w["newcomer"].email, role="member"
    )
    return "newcomer", f"/app/invitations/{invitation.token}/", None


STAGED = {
    **{
        f"admin claims: {action}": _admin_claim(stage, action)
        for action, stage in [
            ("assess", "under_assessment"),
            ("decide", "under_assessment"),
            ("settle", "accepted"),
            ("payment", "settled"),
            ("reopen", "paid"),
            ("subrogation", "paid"),
            ("recovery", "subrogation"),
        ]
    },
    "admin claims: reinstatement decide": _reinstatement_decide,
    "claims: reinstatement": _reinstate,
    "officer: publish": _officer_request("approved", "publish/"),
    "officer: objection": _officer_request("publicised", "objection/"),
    "officer: claw-back": _officer_request("paid", "claw-back/"),
    "officer: batch paid": _batch_paid,
    "officer: new batch": _batch_new,
    "subsidies: answer the officer": _subsidy_answer,
    "admin quotes: approve": _quote_action("approve"),
    "admin quotes: reject": _quote_action("reject"),
    "underwriting: answer the underwriter": _question_answer,
    "portal: firm switcher": _firm_switch,
    "portal: accept invitation": _invitation_accept,
    "underwriting: sandbox payment": _sandbox_payment,
    "underwriting: submit application": _application_submit,
    "underwriting: renew a policy": _policy_renew,
    "subsidies: submit": _subsidy_submit,
    "portal: remove a member": _member_remove,
    "portal: withdraw an invitation": _invitation_revoke,
    "portal: revoke an api token": _token_revoke,
}


@pytest.mark.parametrize("name", list(STAGED))
def test_fuzz_staged_form(name, world, db):
    with (
        mock.patch("claims.tasks.process_claim_document.delay"),
        mock.patch("subsidies.tasks.check_eligibility.delay"),
    ):
        persona, page, action = STAGED[name](world)
    _fuzz_form(world, name, persona, page, action)


@pytest.mark.parametrize("step", ["cover", "risk", "valuation"])
def test_fuzz_application_steps(step, world, db):
    client = _client_for(world, "owner")
    app = world["draft"]
    keys = [k for k in _step_keys(client, app) if k.startswith(step)]
    assert keys, step
    url = f"/app/applications/{app.pk}/step/{keys[0]}/"
    defaults = form_fields(client, url, url)
    name = f"underwriting: step {step}"

    @fuzz(name)
    @given(data=st.data())
    def run(data):
        EXAMPLES[name] += 1
        values = _fields_and_values(data, defaults, name)
        values["action"] = data.draw(st.sampled_from(["next", "back", "save", "x"]))
        _check(_submit(client, url, values), name)

    run()


QUEUE_FILTERS = ["status", "programme", "outcome", "q", "page", "sort"]


def test_fuzz_officer_queue_filters(world, db):
    client = _client_for(world, "officer")
    name = "officer: queue filters (GET)"

    @fuzz(name)
    @given(params=st.fixed_dictionaries({}, optional={k: HOSTILE for k in QUEUE_FILTERS}))
    def run(params):
        EXAMPLES[name] += 1
        response = client.get("/officer/requests/", params)
        assert response.status_code < 500 and response.status_code in (200, 302, 400)

    run()


def test_fuzz_product_filters(world, db):
    client = Client()
    name = "catalogue: product filters (GET)"
    keys = ["ip_type", "liability_class", "function_class", "insurer", "q", "page"]

    @fuzz(name)
    @given(params=st.fixed_dictionaries({}, optional={k: HOSTILE for k in keys}))
    def run(params):
        EXAMPLES[name] += 1
        response = client.get("/products/", params)
        assert response.status_code in (200, 400)

    run()


def test_an_invalid_form_shows_its_errors_in_chinese_then_in_english(world, db):
    data = {"name_zh": "", "uscc": "x", "region_code": "abc", "industry": "__proto__"}
    chinese = _client_for(world, "newcomer").post("/app/firms/new/", data)
    page = chinese.content.decode()
    assert chinese.status_code == 200 and "is-invalid" in page
    assert "这个字段是必填项" in page or "该字段是必填项" in page
    english = _client_for(world, "newcomer", language="en").post("/app/firms/new/", data)
    page = english.content.decode()
    assert english.status_code == 200 and "This field is required." in page
    assert "Select a valid choice" in page


def test_the_firm_switcher_ignores_a_next_that_is_not_a_path(world, db):
    """Found by the fuzzing: ``next=0`` passed the host check, and redirect() then took the
    bare word for a view name and failed with a server error..."""
    _firm_switch(world)
    client = _client_for(world, "switcher")
    for target in ("0", "none", "portal:dashboard", "javascript:alert(1)"):
        response = client.post("/app/firms/switch/", {"firm": world["firm"].pk, "next": target})
        assert response.status_code == 302 and response.url == "/app/", target
    # ...and a firm id beyond a database integer overflowed the query on SQLite.
    for firm in (str(2**63), str(2**64), "9" * 40, "-" + str(2**63 + 1)):
        assert client.post("/app/firms/switch/", {"firm": firm}).status_code == 404, firm


@pytest.mark.parametrize("other", ["9" * 40, "1e999999", "1,2e20", str(2**64)])
def test_the_calculator_refuses_other_sums_insured_beyond_any_amount(other, world, db):
    """Found by the fuzzing: a sum far beyond 14 digits made quantize() raise (a server error)
    instead of the form saying it is not a sum insured."""
    claim = claim_at(world, "under_assessment")
    client = _client_for(world, "admin")
    data = {
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "20",
        "items-0-loss": "100000",
        "items-0-sum_insured": "50000",
        "other_sums_insured": other,
        "_calculate": "1",
    }
    response = client.post(f"/admin/claims/claim/{claim.pk}/assess/", data)
    assert response.status_code == 200
    assert "不是保险金额" in response.content.decode() or response.context["form"].errors
