"""Hypothesis fuzzing of every form people submit: applicants, officers, staff in the admin,
visitors on the account pages.

Each form is found on its page (its field names, hidden fields and default values read from the
HTML), then POSTed again and again with generated values: text in any script, CJK, control
characters with NUL, huge and negative numbers, decimals with many digits, dates far in the
past or future, empty and very long strings, wrong choice values and ids beyond 2**63. Every
example runs in a savepoint that is rolled back, so each one meets the objects in the state the
form is meant for. The rules: never a server error; an invalid submission re-renders with its
errors in Chinese (or English when that is chosen), never Django's untranslated defaults.

At the end of the module a table of examples per form is printed (and written to
``$PORTAL_VAR_DIR/fuzz_examples.txt``).
"""

import os
import re
from collections import Counter
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.choices import AssetKind
from tests.claims.helpers import in_force_policy, notify_claim
from tests.factories import FirmFactory, MembershipFactory, UserFactory
from tests.subsidies.helpers import authority, officer_of, programme, submitted_request
from tests.underwriting.admin_helpers import staff
from tests.underwriting.application_helpers import acknowledge, filled_application, granted_patent
from tests.underwriting.conftest import seeded_catalogue  # noqa: F401 - shared fixture

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
        elif tag in ("input", "textarea") and attrs.get("name"):
            kind = (attrs.get("type") or "text").lower()
            if kind in ("submit", "button", "file", "image"):
                return
            self._current.setdefault(attrs["name"], attrs.get("value") or "")
        elif tag == "select" and attrs.get("name"):
            self._select = attrs["name"]
            self._current.setdefault(self._select, "")
        elif tag == "option" and self._select and not self._current.get(self._select):
            self._current[self._select] = attrs.get("value") or ""

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
    "allauth: sign up",
    "allauth: log in",
    "allauth: password reset",
]
# Chosen so the whole module takes about two minutes per database on two cores (about half
# of it building the catalogue and the world); FUZZ_EXAMPLES changes them for a longer hunt.
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
        elif choice == "default":
            values[field] = default
        elif choice == "list":
            values[field] = data.draw(st.lists(HOSTILE, min_size=1, max_size=3), label=field)
    # A field the form does not know, with a name no form has.
    if data.draw(st.booleans()):
        values[data.draw(_ANY_TEXT.filter(lambda s: "\x00" not in s), label="extra")] = "x"
    return values


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_fuzz_form(name, world, db):
    persona, page, action = targets(world)[name]
    action = action or page
    client = _client_for(world, persona)
    defaults = form_fields(client, page, action)

    @fuzz(name)
    @given(data=st.data())
    def run(data):
        EXAMPLES[name] += 1
        _check(_submit(client, action, _fields_and_values(data, defaults, name)), name)

    run()


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
