"""The two work queues read through an index on PostgreSQL, not by scanning the table.

The tables are filled with several thousand bulk rows spread over authorities and statuses the
way a live portal's are (most requests decided long ago, most applications quoted or accepted),
ANALYZEd, then the page is requested: the list query it actually ran is captured and EXPLAINed.
SQLite's planner reports nothing comparable, so these run on PostgreSQL only (CI runs both).
"""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from portal.models import Firm
from subsidies.choices import RequestStatus
from tests.claims.helpers import in_force_policy, notify_claim
from tests.factories import AuthorityFactory, make_uscc
from tests.perf.helpers import (
    SLIM_APPLICATION,
    captured_sql,
    clone,
    clone_applications,
    clone_policies,
)
from tests.subsidies.helpers import programme, submitted_request
from underwriting.choices import ApplicationStatus

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="EXPLAIN plans are checked on PostgreSQL; SQLite has no comparable planner output",
)

SEQUENTIAL = "Seq Scan"
INDEXED = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue."""


@pytest.fixture
def policy(catalogue, firm_a, applicant_a):
    return in_force_policy(firm_a, applicant_a)


def plan_nodes(node):
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


def explain(sql: str) -> tuple[dict, str]:
    """The JSON plan of ``sql`` (as Django ran it, parameters inlined) and its text form."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
        cursor.execute(f"EXPLAIN {sql}")
        text = "\n".join(row[0] for row in cursor.fetchall())
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Plan"], text


def list_query(statements: list[str], table: str, *, paged: bool = True) -> str:
    """The page's main list query: the one reading ``table`` ordered (and limited to a page)."""
    found = [
        sql
        for sql in statements
        if f'FROM "{table}"' in sql and "ORDER BY" in sql and (not paged or "LIMIT" in sql)
    ]
    assert len(found) == 1, statements
    return found[0]


def assert_indexed(sql: str, table: str, expected: set[str], title: str):
    plan, text = explain(sql)
    print(f"\n=== {title} ===\n{sql}\n--- plan ---\n{text}\n--- JSON ---\n{json.dumps(plan)}")
    on_table = [node for node in plan_nodes(plan) if node.get("Relation Name") == table]
    indexes = {
        node.get("Index Name")
        for node in plan_nodes(plan)
        if node["Node Type"] in INDEXED and node.get("Index Name")
    }
    assert on_table, text
    assert all(node["Node Type"] != SEQUENTIAL for node in on_table), text
    assert indexes & expected, text


def analyze(*tables: str):
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'ANALYZE "{table}"')


def test_the_officer_queue_reads_through_the_queue_index(client, policy, officer_x, applicant_a):
    """12,000 requests over six authorities, 2 % of them waiting for a decision, most of the
    rest paid out long ago."""
    authority = officer_x.officer_membership.authority
    prog = programme(authority)
    template = submitted_request(policy, prog, applicant_a)
    others = [AuthorityFactory(region_code=f"3{n}0100") for n in range(5)]
    everyone = [authority, *others]
    now = timezone.now()
    # A policy is subsidised once per programme: 100 programmes × 120 policies give every
    # request a pair of its own.
    programmes = clone(prog, 100, vary=lambda i: {"code": f"explain-{i}"})
    policies = clone_policies(policy, 120)
    decided = [RequestStatus.DISBURSED] * 7 + [
        RequestStatus.REJECTED,
        RequestStatus.PUBLICISED,
        RequestStatus.APPROVED,
    ]

    def row(i):
        waiting = i < 240
        return {
            "number": f"EX-{i:06d}",
            "programme_id": programmes[i % 100].pk,
            "policy_id": policies[i // 100].pk,
            "authority_id": everyone[i % 6].pk,
            "status": RequestStatus.UNDER_REVIEW if waiting else decided[i % 10],
            "submitted_at": now - (timedelta(minutes=i) if waiting else timedelta(days=30 + i)),
            "eligibility": [],
        }

    clone(template, 12_000, vary=row)
    analyze("subsidies_subsidyrequest")

    client.force_login(officer_x)
    statements = captured_sql(client, reverse("officer:queue"))
    sql = list_query(statements, "subsidies_subsidyrequest")
    # subsidy_open_oldest (the open requests in the queue's order) or the older subsidy_queue.
    assert_indexed(
        sql, "subsidies_subsidyrequest", {"subsidy_open_oldest", "subsidy_queue"}, "officer queue"
    )


def test_the_referral_queue_reads_through_the_queue_index(client, policy, underwriter):
    """8,000 applications, 3 % of them referred to an underwriter."""
    application = policy.application
    statuses = [
        ApplicationStatus.QUOTED,
        ApplicationStatus.ACCEPTED,
        ApplicationStatus.DECLINED,
        ApplicationStatus.DRAFT,
    ]
    clone_applications(application, 240, status=ApplicationStatus.REFERRED)
    for position, status in enumerate(statuses):
        clone_applications(application, 1_940, start=240 + position * 1_940, status=status)
    analyze("underwriting_application")

    client.force_login(underwriter)
    url = reverse("admin:underwriting_application_changelist") + "?status__exact=referred"
    statements = captured_sql(client, url)
    sql = list_query(statements, "underwriting_application")
    assert_indexed(sql, "underwriting_application", {"application_queue"}, "referral queue")


def test_the_claims_dashboard_reads_through_the_deadline_index(
    client, policy, applicant_a, claims_handler
):
    """8,000 claims, 3 % of them with a statutory deadline running (the rest closed)."""
    claim = notify_claim(policy, applicant_a)
    today = timezone.localdate()

    def row(i):
        running = i < 240
        return {
            "number": f"EXC-{i:06d}",
            "next_deadline_on": today + timedelta(days=i % 40 - 10) if running else None,
            "next_deadline_kind": claim.next_deadline_kind if running else "",
        }

    clone(claim, 8_000, vary=row)
    analyze("claims_claim")

    client.force_login(claims_handler)
    statements = captured_sql(client, reverse("admin:claims_claim_dashboard"))
    sql = list_query(statements, "claims_claim", paged=False)
    assert_indexed(sql, "claims_claim", {"claim_deadlines"}, "claims dashboard")


def test_the_applicants_list_reads_through_the_firm_index(client_a, policy, firm_a):
    """8,000 applications of 200 firms: the applicant's list reads its firm's 40."""
    firms = Firm.objects.bulk_create(
        Firm(
            name_zh=f"压测公司{n}",
            name_en=f"Load firm {n}",
            uscc=make_uscc(900_000 + n),
            region_code="320214",
            industry=firm_a.industry,
            size=firm_a.size,
        )
        for n in range(199)
    )
    everyone = [firm_a, *firms]
    clone(
        policy.application,
        8_000,
        vary=lambda i: {**SLIM_APPLICATION, "firm_id": everyone[i % 200].pk},
    )
    analyze("underwriting_application")

    statements = captured_sql(client_a, reverse("applications:list"))
    sql = list_query(statements, "underwriting_application")
    assert_indexed(
        sql, "underwriting_application", {"application_firm_updated"}, "applicant's applications"
    )
