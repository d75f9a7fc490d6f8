"""Schemathesis against the API's own OpenAPI schema, in process (the WSGI application).

Every operation of /api/schema/ gets the schema's examples, Schemathesis' coverage cases (edge
values and invalid inputs of every parameter) and up to ``MAX_EXAMPLES`` generated requests,
sent with the token of an applicant who owns a firm with an in-force policy, a claim and a
subsidy request in the officers' queue (so detail endpoints find objects); then the officers'
operations again with the token of an officer of the authority whose queue holds that request.
Each response must not be a server error and must match the schema for its status. The number
of cases sent is printed at the end of the run.
"""

import collections
import contextlib
import dataclasses
import logging

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from knox.models import AuthToken
from knox.settings import CONSTANTS
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.wsgi import application
from tests.claims.helpers import in_force_policy, notify_claim
from tests.subsidies import helpers as subsidy_helpers

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
]

SCHEMATHESIS_CONFIG = {
    "generation": {
        "mode": "all",  # valid requests, and invalid ones, which must be refused with a 4xx
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,  # the same requests on every run: `make test` is a gate
        "database": "none",  # no .hypothesis/ directory
    },
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    },
}

# Cases sent (one request each), by operation; printed after the run.
sent: collections.Counter = collections.Counter()


@contextlib.contextmanager
def _in_process_requests():
    """The WSGI handler closes "old" database connections when a request starts and ends, which
    would break the test's transaction; Django's test client disconnects the same receivers."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture(scope="module", autouse=True)
def _report_sent(request):
    """Prints how many cases were sent, by operation, after the run (even when it passes)."""
    yield
    if not sent:
        return
    officer = sum(count for label, count in sent.items() if label.endswith("(officer)"))
    lines = [
        f"Schemathesis: {sum(sent.values())} cases sent over {len(sent)} operation runs "
        f"(firm owner {sum(sent.values()) - officer}, officer {officer})"
    ]
    lines += [f"  {count:5d}  {label}" for label, count in sorted(sent.items())]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:  # pragma: no cover - plugins turned off
        print("\n".join(lines))
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)


@dataclasses.dataclass
class Dataset:
    owner: object
    officer: object


@pytest.fixture
def api_data(seeded_catalogue, db, firm_a, applicant_a) -> Dataset:
    """A Wuxi firm's owner with an in-force policy, a reported claim and a subsidy request in the
    queue of the Wuxi authority, and an officer of that authority."""
    policy = in_force_policy(firm_a, applicant_a)
    notify_claim(policy, applicant_a)
    wuxi = subsidy_helpers.authority(firm_a.region_code[:4] + "00")
    subsidy_helpers.submitted_request(policy, subsidy_helpers.programme(wuxi), applicant_a)
    return Dataset(owner=applicant_a, officer=subsidy_helpers.officer_of(wuxi, "wx@example.test"))


class _Token:
    """A user's token. A generated DELETE /api/v1/tokens/{token_key}/ could revoke it (the list of
    tokens shows its key); then a fresh one is made, so that the run goes on authenticated."""

    def __init__(self, user):
        self.user = user
        self.header = None
        self.token_key = None

    def __call__(self) -> str:
        if self.header is None or not AuthToken.objects.filter(token_key=self.token_key).exists():
            _row, key = AuthToken.objects.create(self.user)
            self.header = f"Token {key}"
            self.token_key = key[: CONSTANTS.TOKEN_KEY_LENGTH]
        return self.header


@pytest.fixture
def owner_token(api_data):
    return _Token(api_data.owner)


@pytest.fixture
def officer_token(api_data):
    return _Token(api_data.officer)


@pytest.fixture
def api_schema(api_data):
    # The thousands of expected 4xx would each log a warning; server errors still log.
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)
    try:
        with _in_process_requests():
            config = schemathesis.Config.from_dict(SCHEMATHESIS_CONFIG)
            yield schemathesis.openapi.from_wsgi(
                "/api/schema/?format=json", application, config=config
            )
    finally:
        request_log.setLevel(level)


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    """Schemathesis 4.32's lazy schemas rename the running test through ``node._nodeid``, which
    pytest 9.2 no longer has (ids are ``node._id``); give it the attribute to read and write."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")
officer_schema = schema.include(path_regex=r"^/api/v1/(officer/|me/|tokens/)")


@schema.parametrize()
def test_api_conforms_to_its_schema(case, owner_token):
    sent[case.operation.label] += 1
    case.call_and_validate(headers={"Authorization": owner_token()}, checks=CHECKS)


@officer_schema.parametrize()
def test_officer_api_conforms_to_its_schema(case, officer_token):
    sent[f"{case.operation.label} (officer)"] += 1
    case.call_and_validate(headers={"Authorization": officer_token()}, checks=CHECKS)
