"""A scripted integration, through the REST API alone, with a knox token: from the indicative
premium to an issued policy and a claim.

Only two steps are not the client's: the test makes the token (as the workspace's token page
would), and moves the policy's start to today and runs the nightly roll (the beat task's job), so
that the policy is in force when the claim is reported."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import make_patent_number
from tests.underwriting.application_helpers import ORDINARY_RISK, ORDINARY_VALUATION, answers_for
from tests.underwriting.conftest import seeded_catalogue  # noqa: F401 - shared fixture
from underwriting import services
from underwriting.models import Policy

API = "/api/v1"


@pytest.fixture
def catalogue(seeded_catalogue, db):  # noqa: F811
    """The module's shared catalogue (tests/underwriting/conftest.py)."""


class Integration:
    """A minimal API client of a partner platform: JSON in and out, a token, and an
    Idempotency-Key on every create."""

    def __init__(self, token: str):
        self.http = APIClient()
        self.http.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        self.keys = 0

    def _check(self, response, expected: int):
        assert response.status_code == expected, (response.status_code, response.content[:2000])
        return response.json()

    def get(self, url, expected=200, **query):
        return self._check(self.http.get(f"{API}{url}", query), expected)

    def post(self, url, body, expected=201, idempotent=False):
        headers = {}
        if idempotent:
            self.keys += 1
            headers["HTTP_IDEMPOTENCY_KEY"] = f"journey-{self.keys}"
        return self._check(self.http.post(f"{API}{url}", body, format="json", **headers), expected)

    def put(self, url, body, expected=200):
        return self._check(self.http.put(f"{API}{url}", body, format="json"), expected)


def test_from_indicative_premium_to_a_policy_and_a_claim(catalogue, firm_a, applicant_a, settings):
    settings.EXCLUSION_NOTICE_MIN_SECONDS = 0  # the script "reads" at machine speed
    _instance, token = AuthToken.objects.create(applicant_a)
    client = Integration(token)
    anonymous = APIClient()

    # 1. The catalogue and the indicative premium: public, nothing stored.
    product = anonymous.get(f"{API}/products/PAT-ENF/").json()
    sections = {s["code"]: s for s in product["rating"]["sections"]}
    limits = {code: section["limit_options"][0] for code, section in sections.items()}
    indicative = anonymous.post(
        f"{API}/products/PAT-ENF/premium/", {"limits": limits}, format="json"
    ).json()
    assert Decimal(indicative["premium"]) > 0

    # 2. The firm's patent.
    asset = client.post(
        "/assets/",
        {
            "firm": firm_a.pk,
            "kind": "patent",
            "number": make_patent_number(777),
            "title": "一种节能阀门",
            "filing_date": "2019-03-12",
            "grant_date": "2021-05-01",
            "claim_count": 8,
            "family_countries": ["CN"],
        },
        idempotent=True,
    )

    # 3. The application, step by step.
    application = client.post(
        "/applications/", {"firm": firm_a.pk, "product": "PAT-ENF"}, idempotent=True
    )
    url = f"/applications/{application['id']}"
    client.put(
        f"{url}/cover/",
        {
            "assets": [asset["id"]],
            "limits": limits,
            "deductible": "",
            "riders": [],
            "wished_start": (timezone.localdate() + timedelta(days=7)).isoformat(),
        },
    )
    questionnaires = client.get(f"{url}/questionnaires/")
    for target in questionnaires["valuation"]["assets"]:
        client.put(
            f"{url}/valuation/{target['asset']}/",
            {"answers": answers_for(questionnaires["valuation"]["questions"], ORDINARY_VALUATION)},
        )
    client.put(
        f"{url}/risk/",
        {"answers": answers_for(questionnaires["risk"]["questions"], ORDINARY_RISK)},
    )
    submitted = client.post(f"{url}/submit/", {"declaration": True}, expected=200)
    assert submitted["status"] == "quoted", submitted["rule_results"]

    # 4. The quote: priced from the answers, with its breakdown.
    quotes = client.get(f"{url}/quotes/")["results"]
    assert [q["status"] for q in quotes] == ["offered"]
    quote = client.get(f"/quotes/{quotes[0]['id']}/")
    assert quote["can_accept"] is True
    assert Decimal(quote["premium"]) == Decimal(quote["breakdown"]["total"])

    # 5. The exclusion notice, read and acknowledged item by item.
    notice = client.get(f"/quotes/{quote['id']}/exclusion-notice/")
    assert notice["items"] and notice["token"]
    policy = client.post(
        f"/quotes/{quote['id']}/acknowledgement/",
        {
            "token": notice["token"],
            "text_sha256": notice["text_sha256"],
            "ticks": {item["key"]: True for item in notice["items"]},
            "confirmed": True,
            "instalments": 1,
        },
        idempotent=True,
    )
    assert policy["status"] == "awaiting_payment"
    assert policy["number"] is None

    # 6. Paying through the sandbox issues the policy.
    paid = client.post(f"/policies/{policy['id']}/pay/", {"instalment": 1}, idempotent=True)
    assert paid["policy"]["status"] == "issued"
    number = paid["policy"]["number"]
    assert number and number.startswith("PAT-ENF-")
    assert paid["payment"]["amount"] == quote["premium"]
    verified = anonymous.get(
        f"{API}/verify/", {"number": number, "code": paid["policy"]["verification_code"]}
    ).json()
    assert verified["found"] is True

    # The beat's job: cover starts (moved to today so the claim's incident falls inside it).
    today = timezone.localdate()
    Policy.objects.filter(pk=policy["id"]).update(
        start_date=today, end_date=today.replace(year=today.year + 1) - timedelta(days=1)
    )
    services.policies_roll(today=today)
    in_force = client.get(f"/policies/{policy['id']}/")
    assert in_force["status"] == "in_force"

    # 7. The claim (claims/api.py).
    claim = client.post(
        "/claims/",
        {
            "policy": policy["id"],
            "incident_date": today.isoformat(),
            "cause_number": 1,
            "right_ids": [item["id"] for item in in_force["terms"]["insured"]],
            "description": "A competitor sells copies of our patented valve at trade fairs.",
            "amount_claimed": "30000.00",
        },
        idempotent=True,
    )
    reported = client.get(f"/claims/{claim['id']}/")
    assert reported["status"] == "notified"
    assert reported["policy"] == policy["id"]
    assert reported["policy_number"] == number
