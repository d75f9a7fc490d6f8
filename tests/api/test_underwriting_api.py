"""The underwriting REST API under /api/v1/: the public catalogue and indicative premium, IP assets,
applications step by step, quotes, the exclusion notice and its acknowledgement, policies with
their document and payment, and the public policy check.

The API calls the pages' services under the pages' rules; these tests check the API's side of it:
what is public, what is scoped to the user's firms (another firm's object answers 404 and nothing
changes), the error body, idempotent retries and that the premium calculator stores nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from portal.models import IdempotencyKey, IPAsset
from tests.factories import IPAssetFactory, make_patent_number
from tests.underwriting.application_helpers import (
    ORDINARY_RISK,
    ORDINARY_VALUATION,
    acknowledge,
    answers_for,
    filled_application,
    granted_patent,
    notice_token_shown_ago,
)
from tests.underwriting.conftest import seeded_catalogue  # noqa: F401 - shared fixture
from underwriting import selectors, services
from underwriting.choices import (
    ApplicationStatus,
    DocumentStatus,
    PaymentMethod,
    PolicyStatus,
    ProductStatus,
    QuoteStatus,
)
from underwriting.models import (
    Acknowledgement,
    Application,
    Payment,
    Policy,
    PolicyDocument,
    Product,
    Quote,
)

API = "/api/v1"


@pytest.fixture
def catalogue(seeded_catalogue, db):  # noqa: F811
    """The module's shared catalogue (tests/underwriting/conftest.py)."""


def token_client(user) -> APIClient:
    """A client that authenticates as an integration would: a knox token in the header."""
    _instance, key = AuthToken.objects.create(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def session_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def api_a(applicant_a):
    return token_client(applicant_a)


@pytest.fixture
def api_b(applicant_b):
    return token_client(applicant_b)


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


def offered_quote(firm, user, **options) -> Quote:
    application = filled_application(firm, user, **options)
    services.application_submit(application=application, actor=user, declaration=True)
    return application.quotes.get(status=QuoteStatus.OFFERED)


@pytest.fixture
def quote(catalogue, firm_a, applicant_a):
    return offered_quote(firm_a, applicant_a, riders=["R-ADVANCE"])


@pytest.fixture
def policy(quote, applicant_a):
    return acknowledge(quote, applicant_a)


def pay_first(policy):
    services.payment_record(
        policy=policy,
        actor=None,
        amount=policy.instalments.get(sequence=1).amount,
        reference=f"SANDBOX-test-{policy.pk}",
        method=PaymentMethod.SANDBOX,
    )
    policy.refresh_from_db()
    return policy


def ready_document(policy) -> PolicyDocument:
    document = policy.documents.get(is_current=True)
    document.file.save("policy.pdf", ContentFile(b"%PDF-1.4 api test policy"), save=False)
    PolicyDocument.objects.filter(pk=document.pk).update(
        file=document.file.name, status=DocumentStatus.READY, ready_at=timezone.now()
    )
    document.refresh_from_db()
    return document


# --- The catalogue ----------------------------------------------------------------------------


def test_catalogue_is_public_with_filters_and_ordering(catalogue):
    client = APIClient()
    response = client.get(f"{API}/products/")
    assert response.status_code == 200
    body = response.json()
    codes = [product["code"] for product in body["results"]]
    published = Product.objects.filter(status=ProductStatus.PUBLISHED)
    assert body["count"] == published.count()
    assert "PAT-ENF" in codes

    trademarks = client.get(f"{API}/products/", {"ip_type": "trademark", "page_size": 100}).json()
    assert trademarks["results"]
    assert all("trademark" in p["ip_types"] for p in trademarks["results"])
    assert "PAT-ENF" not in [p["code"] for p in trademarks["results"]]

    descending = client.get(f"{API}/products/", {"ordering": "-code", "page_size": 100}).json()
    listed = [p["code"] for p in descending["results"]]
    assert listed == sorted(listed, reverse=True)

    english = client.get(f"{API}/products/", {"page_size": 100}, HTTP_ACCEPT_LANGUAGE="en")
    names = {p["code"]: p["name"] for p in english.json()["results"]}
    assert names["PAT-ENF"] == "Patent enforcement insurance"
    chinese = {p["code"]: p["name"] for p in body["results"]}
    assert chinese["PAT-ENF"] == "专利执行保险"

    wrong = client.get(f"{API}/products/", {"liability_class": "nonsense"})
    assert wrong.status_code == 400
    assert error_of(wrong)["code"] == "invalid"
    assert "liability_class" in error_of(wrong)["fields"]


def test_product_detail_has_the_published_wording_and_rating(catalogue):
    response = APIClient().get(f"{API}/products/PAT-ENF/")
    assert response.status_code == 200
    product = response.json()
    version = selectors.current_clause_version(Product.objects.get(code="PAT-ENF"))
    clause = product["clause_version"]
    assert clause["id"] == version.pk
    assert clause["text_sha256"] == version.text_sha256
    assert [c["number"] for c in clause["covered_causes"]] == list(
        range(1, len(version.covered_causes) + 1)
    )
    assert len(clause["exclusions"]) == len(version.exclusions)
    first = clause["exclusions"][0]
    assert first["explanation"]["zh"] == version.exclusions[0]["explanation"]["zh"]
    assert first["explanation"]["en"]
    assert {d["code"] for d in clause["claim_documents"]} >= {"policy", "claim_notice"}
    assert clause["deductible_rules"]["zh"]
    sections = {s["code"]: s for s in product["rating"]["sections"]}
    assert sections["investigation"]["limit_options"] == ["50000", "100000", "200000"]
    assert "R-ADVANCE" in [r["code"] for r in product["rating"]["riders"]]

    assert APIClient().get(f"{API}/products/NO-SUCH/").status_code == 404
    Product.objects.filter(code="PAT-ENF").update(status=ProductStatus.WITHDRAWN)
    assert APIClient().get(f"{API}/products/PAT-ENF/").status_code == 404


def test_riders_are_public(catalogue):
    response = APIClient().get(f"{API}/riders/", {"product": "PAT-ENF"})
    assert response.status_code == 200
    riders = {rider["code"]: rider for rider in response.json()["results"]}
    assert "R-ADVANCE" in riders
    assert "PAT-ENF" in riders["R-ADVANCE"]["main_products"]
    assert riders["R-ADVANCE"]["clause_version"]["exclusions"]


# --- The indicative premium -------------------------------------------------------------------


def _writes(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def test_premium_is_the_calculators_and_nothing_is_stored(catalogue):
    version = selectors.current_clause_version(Product.objects.get(code="PAT-ENF"))
    expected = services.premium_quote(
        version=version,
        limits={"investigation": "100000", "legal": "150000"},
        item_count=2,
        rider_codes=["R-ADVANCE"],
    )
    counts = [model.objects.count() for model in (Application, Quote, Policy, IdempotencyKey)]
    client = APIClient()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"{API}/products/PAT-ENF/premium/",
            {
                "limits": {"investigation": 100000, "legal": "150000.00"},
                "item_count": 2,
                "riders": ["R-ADVANCE"],
            },
            format="json",
        )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert Decimal(body["premium"]) == expected.total > 0
    assert body["currency"] == "CNY"
    assert Decimal(body["breakdown"]["total"]) == expected.total
    assert [s["code"] for s in body["breakdown"]["sections"]] == ["investigation", "legal"]
    assert body["breakdown"]["riders"][0]["code"] == "R-ADVANCE"
    assert _writes(queries.captured_queries) == []
    assert [m.objects.count() for m in (Application, Quote, Policy, IdempotencyKey)] == counts


def test_premium_refuses_what_the_calculator_refuses(catalogue):
    client = APIClient()
    url = f"{API}/products/PAT-ENF/premium/"
    not_offered = client.post(url, {"limits": {"investigation": "12345"}}, format="json")
    assert not_offered.status_code == 400
    assert "limits.investigation" in error_of(not_offered)["fields"]
    unknown = client.post(url, {"limits": {"nonsense": "1000"}}, format="json")
    assert unknown.status_code == 400
    assert "limits.nonsense" in error_of(unknown)["fields"]
    rider = client.post(url, {"limits": {"legal": "150000"}, "riders": ["NO-SUCH"]}, format="json")
    assert rider.status_code == 400
    assert "riders" in error_of(rider)["fields"]
    empty = client.post(url, {"limits": {}}, format="json")
    assert empty.status_code == 400


def test_premium_is_throttled(catalogue, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "indicative_premium", "2/minute")
    client = APIClient()
    url = f"{API}/products/PAT-ENF/premium/"
    body = {"limits": {"legal": "150000"}}
    assert client.post(url, body, format="json").status_code == 200
    assert client.post(url, body, format="json").status_code == 200
    third = client.post(url, body, format="json")
    assert third.status_code == 429
    assert error_of(third)["code"] == "throttled"


# --- IP assets --------------------------------------------------------------------------------


def test_assets_are_created_with_the_forms_rules(catalogue, firm_a, firm_b, api_a):
    number = make_patent_number(4242)
    body = {
        "firm": firm_a.pk,
        "kind": "patent",
        "number": number,
        "title": "一种阀门",
        "filing_date": "2019-03-12",
        "grant_date": "2021-05-01",
        "claim_count": 8,
        "family_countries": ["cn", "US"],
    }
    response = api_a.post(f"{API}/assets/", body, format="json", HTTP_IDEMPOTENCY_KEY="asset-1")
    assert response.status_code == 201, response.json()
    asset = IPAsset.objects.get(pk=response.json()["id"])
    assert asset.firm == firm_a
    assert asset.patent_type == "invention"  # read from the number, as on the form
    assert asset.expiry_date is not None
    assert asset.family_countries == ["CN", "US"]
    replay = api_a.post(f"{API}/assets/", body, format="json", HTTP_IDEMPOTENCY_KEY="asset-1")
    assert replay.json() == response.json()
    assert IPAsset.objects.filter(firm=firm_a).count() == 1

    duplicate = api_a.post(f"{API}/assets/", body, format="json")
    assert duplicate.status_code == 400
    assert error_of(duplicate)["code"] == "duplicate"
    others = api_a.post(f"{API}/assets/", {**body, "firm": firm_b.pk}, format="json")
    assert others.status_code == 400
    assert "firm" in error_of(others)["fields"]
    stray = api_a.post(
        f"{API}/assets/",
        {"firm": firm_a.pk, "kind": "trade_secret", "title": "配方", "claim_count": 3},
        format="json",
    )
    assert stray.status_code == 400
    assert "claim_count" in error_of(stray)["fields"]

    IPAssetFactory(firm=firm_b)
    listed = api_a.get(f"{API}/assets/").json()
    assert [a["id"] for a in listed["results"]] == [asset.pk]


# --- Applications -----------------------------------------------------------------------------


def test_create_application_is_idempotent(catalogue, firm_a, firm_b, api_a):
    body = {"firm": firm_a.pk, "product": "PAT-ENF"}
    first = api_a.post(f"{API}/applications/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.json()
    again = api_a.post(f"{API}/applications/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Application.objects.filter(firm=firm_a).count() == 1
    application = Application.objects.get(firm=firm_a)
    assert first.json()["id"] == application.pk
    assert first.json()["status"] == ApplicationStatus.DRAFT
    assert first.json()["clause_version"]["id"] == application.clause_version_id

    reused = api_a.post(
        f"{API}/applications/",
        {"firm": firm_a.pk, "product": "PAT-INF-LIAB"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert reused.status_code == 422
    other_firm = api_a.post(
        f"{API}/applications/", {"firm": firm_b.pk, "product": "PAT-ENF"}, format="json"
    )
    assert other_firm.status_code == 400
    assert "firm" in error_of(other_firm)["fields"]
    assert APIClient().post(f"{API}/applications/", body, format="json").status_code == 401
    assert Application.objects.count() == 1


def test_application_steps_through_the_api(catalogue, firm_a, applicant_a, api_a):
    patent = granted_patent(firm_a)
    created = api_a.post(
        f"{API}/applications/", {"firm": firm_a.pk, "product": "PAT-ENF"}, format="json"
    ).json()
    url = f"{API}/applications/{created['id']}"
    start = (timezone.localdate() + timedelta(days=7)).isoformat()

    bad_cover = api_a.put(
        f"{url}/cover/",
        {"assets": [patent.pk], "limits": {"investigation": "12345"}, "wished_start": start},
        format="json",
    )
    assert bad_cover.status_code == 400
    assert error_of(bad_cover)["code"] == "answers"
    assert "limits.investigation" in error_of(bad_cover)["fields"]

    cover = api_a.put(
        f"{url}/cover/",
        {
            "assets": [patent.pk],
            "limits": {"investigation": "50000", "legal": "150000"},
            "wished_start": start,
        },
        format="json",
    )
    assert cover.status_code == 200, cover.json()
    assert cover.json()["sum_insured"] == "200000.00"  # both sections, one right
    questionnaires = api_a.get(f"{url}/questionnaires/").json()
    assert [a["asset"] for a in questionnaires["valuation"]["assets"]] == [patent.pk]
    valuation_questions = questionnaires["valuation"]["questions"]
    risk_questions = questionnaires["risk"]["questions"]
    assert {"royalty_rate", "economic_life"} <= {q["code"] for q in valuation_questions}
    assert "industry" in {q["code"] for q in risk_questions}
    assert all("rating" not in q for q in risk_questions)

    valuation = api_a.put(
        f"{url}/valuation/{patent.pk}/",
        {"answers": answers_for(valuation_questions, ORDINARY_VALUATION)},
        format="json",
    )
    assert valuation.status_code == 200, valuation.json()
    wrong_risk = answers_for(risk_questions, ORDINARY_RISK, {"annual_sales": "lots"})
    refused = api_a.put(f"{url}/risk/", {"answers": wrong_risk}, format="json")
    assert refused.status_code == 400
    assert error_of(refused)["fields"]["answers.annual_sales"]
    # Kept as typed, the step left open, as on the page.
    assert Application.objects.get(pk=created["id"]).risk_answers["annual_sales"] == "lots"

    risk = api_a.put(
        f"{url}/risk/", {"answers": answers_for(risk_questions, ORDINARY_RISK)}, format="json"
    )
    assert risk.status_code == 200, risk.json()
    assert all(step["done"] for step in risk.json()["steps"] if step["key"] != "review")

    undeclared = api_a.post(f"{url}/submit/", {"declaration": False}, format="json")
    assert undeclared.status_code == 400
    assert error_of(undeclared)["code"] == "declaration"
    assert api_a.post(f"{url}/submit/", {}, format="json").status_code == 400
    submitted = api_a.post(f"{url}/submit/", {"declaration": True}, format="json")
    assert submitted.status_code == 200, submitted.json()
    assert submitted.json()["status"] == ApplicationStatus.QUOTED
    quote = Quote.objects.get(application_id=created["id"])
    assert submitted.json()["live_quote"] == quote.pk

    quotes = api_a.get(f"{url}/quotes/").json()["results"]
    assert [q["id"] for q in quotes] == [quote.pk]
    detail = api_a.get(f"{API}/quotes/{quote.pk}/").json()
    assert Decimal(detail["premium"]) == quote.premium
    assert detail["can_accept"] is True
    assert detail["status"] == QuoteStatus.OFFERED
    again = api_a.put(
        f"{url}/risk/", {"answers": answers_for(risk_questions, ORDINARY_RISK)}, format="json"
    )
    assert again.status_code == 400
    assert error_of(again)["code"] == "frozen"


def test_withdraw(catalogue, firm_a, applicant_a, api_a):
    application = filled_application(firm_a, applicant_a)
    url = f"{API}/applications/{application.pk}/withdraw/"
    response = api_a.post(url, {"reason": "Changed our mind"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == ApplicationStatus.WITHDRAWN
    again = api_a.post(url, {}, format="json")
    assert again.status_code == 400
    assert error_of(again)["code"] == "transition"


def test_application_list_is_scoped_filtered_and_bounded(
    catalogue, firm_a, firm_b, applicant_a, applicant_b, api_a
):
    product = Product.objects.get(code="PAT-ENF")

    def start(firm, user):
        return services.application_start(firm=firm, actor=user, product=product)

    mine = [start(firm_a, applicant_a) for _ in range(2)]
    start(firm_b, applicant_b)
    with CaptureQueriesContext(connection) as few:
        listed = api_a.get(f"{API}/applications/").json()
    assert {a["id"] for a in listed["results"]} == {a.pk for a in mine}
    mine += [start(firm_a, applicant_a) for _ in range(4)]
    with CaptureQueriesContext(connection) as many:
        listed = api_a.get(f"{API}/applications/", {"ordering": "created"}).json()
    assert [a["id"] for a in listed["results"]] == [a.pk for a in mine]
    assert len(many.captured_queries) == len(few.captured_queries)
    none = api_a.get(f"{API}/applications/", {"status": "quoted"}).json()
    assert none["count"] == 0
    bad = api_a.get(f"{API}/applications/", {"status": "nonsense"})
    assert bad.status_code == 400
    huge = api_a.get(f"{API}/applications/", {"firm": 10**30})
    assert huge.status_code == 400
    assert "firm" in error_of(huge)["fields"]


# --- The exclusion notice and the acknowledgement ---------------------------------------------


def _acknowledgement(notice: dict, **overrides) -> dict:
    body = {
        "token": notice["token"],
        "text_sha256": notice["text_sha256"],
        "ticks": {item["key"]: True for item in notice["items"]},
        "confirmed": True,
        "instalments": 1,
    }
    body.update(overrides)
    return body


def test_notice_offers_items_text_hash_and_token(quote, api_a):
    response = api_a.get(f"{API}/quotes/{quote.pk}/exclusion-notice/")
    assert response.status_code == 200
    notice = response.json()
    expected = services.exclusion_notice(quote)
    assert [item["key"] for item in notice["items"]] == expected.keys
    assert {item["kind"] for item in notice["items"]} == {"clause", "rider"}
    assert notice["text"] == expected.text
    assert notice["text_sha256"] == expected.sha256
    assert notice["token"]
    assert all(item["explanation"]["zh"] for item in notice["items"])
    assert notice["min_seconds"] == 30


def test_acknowledgement_checks_hash_ticks_time_and_is_idempotent(quote, applicant_a, api_a):
    url = f"{API}/quotes/{quote.pk}/acknowledgement/"
    notice = api_a.get(f"{API}/quotes/{quote.pk}/exclusion-notice/").json()

    too_fast = api_a.post(url, _acknowledgement(notice), format="json")
    assert too_fast.status_code == 400
    assert error_of(too_fast)["code"] == "too_fast"

    notice["token"] = notice_token_shown_ago(quote, applicant_a, 60)
    wrong_hash = api_a.post(url, _acknowledgement(notice, text_sha256="0" * 64), format="json")
    assert wrong_hash.status_code == 400
    assert error_of(wrong_hash)["code"] == "hash"

    ticks = {item["key"]: True for item in notice["items"][1:]}
    missing_tick = api_a.post(url, _acknowledgement(notice, ticks=ticks), format="json")
    assert missing_tick.status_code == 400
    assert error_of(missing_tick)["code"] == "ticks"

    unticked = {**ticks, notice["items"][0]["key"]: False}
    unticked_response = api_a.post(url, _acknowledgement(notice, ticks=unticked), format="json")
    assert error_of(unticked_response)["code"] == "ticks"
    unconfirmed = api_a.post(url, _acknowledgement(notice, confirmed=False), format="json")
    assert error_of(unconfirmed)["code"] == "confirm"
    malformed = api_a.post(url, {"text_sha256": notice["text_sha256"]}, format="json")
    assert malformed.status_code == 400
    assert {"token", "ticks", "confirmed"} <= set(error_of(malformed)["fields"])
    assert not Acknowledgement.objects.exists()
    assert not Policy.objects.exists()

    body = _acknowledgement(notice)
    accepted = api_a.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="ack-1")
    assert accepted.status_code == 201, accepted.json()
    policy = Policy.objects.get()
    assert accepted.json()["id"] == policy.pk
    assert accepted.json()["status"] == PolicyStatus.AWAITING_PAYMENT
    assert accepted.json()["next_due"]["sequence"] == 1
    acknowledgement = Acknowledgement.objects.get()
    assert acknowledgement.channel == "api"
    assert acknowledgement.text_sha256 == notice["text_sha256"]
    assert acknowledgement.dwell_seconds >= 60
    assert {item["key"] for item in acknowledgement.items if item["ticked_at"]} == set(
        services.exclusion_notice(quote).keys
    )
    replay = api_a.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="ack-1")
    assert replay.status_code == 201
    assert replay.json() == accepted.json()
    assert Policy.objects.count() == 1
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED
    # Accepted: the notice is no longer offered, and a second acceptance is refused.
    assert error_of(api_a.get(f"{API}/quotes/{quote.pk}/exclusion-notice/"))["code"] == (
        "transition"
    )
    assert api_a.post(url, body, format="json").status_code == 400


def test_minimum_reading_time_comes_from_settings(quote, api_a, settings):
    settings.EXCLUSION_NOTICE_MIN_SECONDS = 0
    notice = api_a.get(f"{API}/quotes/{quote.pk}/exclusion-notice/").json()
    assert notice["min_seconds"] == 0
    response = api_a.post(
        f"{API}/quotes/{quote.pk}/acknowledgement/", _acknowledgement(notice), format="json"
    )
    assert response.status_code == 201, response.json()


# --- Another firm -----------------------------------------------------------------------------


def test_another_firm_gets_404_everywhere(policy, applicant_b, api_b):
    pay_first(policy)
    ready_document(policy)
    application = policy.application
    quote = policy.quote
    reads = [
        f"{API}/applications/{application.pk}/",
        f"{API}/applications/{application.pk}/questionnaires/",
        f"{API}/applications/{application.pk}/quotes/",
        f"{API}/quotes/{quote.pk}/",
        f"{API}/quotes/{quote.pk}/exclusion-notice/",
        f"{API}/policies/{policy.pk}/",
        f"{API}/policies/{policy.pk}/document/",
    ]
    session_b = session_client(applicant_b)
    for client in (api_b, session_b):
        for url in reads:
            response = client.get(url)
            assert response.status_code == 404, url
            assert error_of(response)["code"] == "not_found"
    writes = [
        ("put", f"{API}/applications/{application.pk}/risk/", {"answers": {}}),
        ("post", f"{API}/applications/{application.pk}/submit/", {"declaration": True}),
        ("post", f"{API}/applications/{application.pk}/withdraw/", {}),
        ("post", f"{API}/quotes/{quote.pk}/acknowledgement/", {}),
        ("post", f"{API}/policies/{policy.pk}/pay/", {}),
    ]
    for method, url, body in writes:
        response = getattr(api_b, method)(url, body, format="json")
        assert response.status_code == 404, url
    for url in ("applications", "policies", "assets"):
        assert api_b.get(f"{API}/{url}/").json()["count"] == 0
    assert Payment.objects.count() == 1


# --- Policies ---------------------------------------------------------------------------------


def test_policy_detail_and_document(policy, api_a):
    waiting = api_a.get(f"{API}/policies/{policy.pk}/document/")
    assert waiting.status_code == 409
    assert error_of(waiting)["code"] == "not_ready"

    pay_first(policy)
    detail = api_a.get(f"{API}/policies/{policy.pk}/").json()
    assert detail["number"] == policy.number
    assert detail["status"] in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE)
    assert detail["remaining_sum_insured"] == f"{policy.remaining_sum_insured:.2f}"
    assert [i["status"] for i in detail["instalments"]] == ["paid"]
    assert detail["payments"][0]["method"] == PaymentMethod.SANDBOX
    assert detail["document"]["status"] == DocumentStatus.QUEUED
    assert detail["acknowledgement"]["text_sha256"] == policy.acknowledgement.text_sha256
    assert detail["terms"]["exclusions"]
    assert api_a.get(f"{API}/policies/{policy.pk}/document/").status_code == 409

    ready_document(policy)
    for accept in ("application/json", "application/pdf"):
        response = api_a.get(f"{API}/policies/{policy.pk}/document/", HTTP_ACCEPT=accept)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert b"".join(response.streaming_content) == b"%PDF-1.4 api test policy"
        assert "attachment" in response["Content-Disposition"]

    listed = api_a.get(f"{API}/policies/", {"status": detail["status"]}).json()
    assert [p["id"] for p in listed["results"]] == [policy.pk]
    assert api_a.get(f"{API}/policies/", {"status": "lapsed"}).json()["count"] == 0


def test_pay_next_instalment_through_the_sandbox(catalogue, firm_a, applicant_a, api_a):
    Product.objects.filter(code="PAT-ENF").update(max_instalments=4)
    quote = offered_quote(firm_a, applicant_a)
    policy = acknowledge(quote, applicant_a, instalments=2)
    url = f"{API}/policies/{policy.pk}/pay/"

    wrong = api_a.post(url, {"instalment": 2}, format="json")
    assert wrong.status_code == 400
    assert error_of(wrong)["code"] == "instalment"

    first = api_a.post(url, {"instalment": 1}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert first.status_code == 201, first.json()
    policy.refresh_from_db()
    assert policy.number and policy.status in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE)
    assert first.json()["policy"]["number"] == policy.number
    assert first.json()["payment"]["instalment"] == 1
    replay = api_a.post(url, {"instalment": 1}, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert replay.json() == first.json()
    assert Payment.objects.filter(policy=policy).count() == 1

    second = api_a.post(url, {}, format="json")
    assert second.status_code == 201
    assert second.json()["payment"]["instalment"] == 2
    assert second.json()["policy"]["next_due"] is None
    nothing = api_a.post(url, {}, format="json")
    assert nothing.status_code == 400
    assert error_of(nothing)["code"] == "nothing_due"
    assert Payment.objects.filter(policy=policy).count() == 2


# --- Verification -----------------------------------------------------------------------------


def test_verification_is_public_and_tells_nothing_on_a_mismatch(policy):
    pay_first(policy)
    client = APIClient()
    found = client.get(
        f"{API}/verify/", {"number": policy.number, "code": policy.verification_code.lower()}
    )
    assert found.status_code == 200
    assert found.json()["found"] is True
    assert found.json()["policy"]["number"] == policy.number
    assert found.json()["policy"]["status"] in ("valid", "not_started")
    assert found.json()["policy"]["firm"] == policy.firm.name
    wrong = client.get(f"{API}/verify/", {"number": policy.number, "code": "WRONGCODE1"})
    assert wrong.json() == {"found": False, "policy": None}
    unknown = client.get(f"{API}/verify/", {"number": "NOPE", "code": policy.verification_code})
    assert unknown.json() == wrong.json()
    assert client.get(f"{API}/verify/", {"number": policy.number}).status_code == 400


def test_verification_is_rate_limited(policy, settings):
    settings.POLICY_VERIFY_MAX_ATTEMPTS = 2
    client = APIClient()
    query = {"number": "X", "code": "Y"}
    assert client.get(f"{API}/verify/", query).status_code == 200
    assert client.get(f"{API}/verify/", query).status_code == 200
    limited = client.get(f"{API}/verify/", query)
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "throttled"


def test_the_schema_documents_every_operation(db):
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    expected = {
        "/api/v1/products/": {"get"},
        "/api/v1/products/{code}/premium/": {"post"},
        "/api/v1/applications/": {"get", "post"},
        "/api/v1/applications/{id}/cover/": {"put"},
        "/api/v1/quotes/{id}/exclusion-notice/": {"get"},
        "/api/v1/quotes/{id}/acknowledgement/": {"post"},
        "/api/v1/policies/{id}/document/": {"get"},
        "/api/v1/policies/{id}/pay/": {"post"},
        "/api/v1/verify/": {"get"},
        "/api/v1/assets/": {"get", "post"},
    }
    for url, methods in expected.items():
        assert methods <= set(paths[url]), url
    ids = [
        op["operationId"] for item in paths.values() for op in item.values() if "operationId" in op
    ]
    assert len(ids) == len(set(ids))
    acknowledgement = paths["/api/v1/quotes/{id}/acknowledgement/"]["post"]
    assert "requestBody" in acknowledgement
    assert {"201", "400", "404"} <= set(acknowledgement["responses"])


def test_the_applicant_answers_an_underwriters_question_through_the_api(
    catalogue, firm_a, applicant_a, api_a, api_b
):
    from tests.underwriting.admin_helpers import staff

    application = filled_application(firm_a, applicant_a, risk={"sales_regions": ["cn", "us_ca"]})
    services.application_submit(application=application, actor=applicant_a, declaration=True)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REFERRED, application.rule_results
    question = services.application_ask(
        application=application,
        actor=staff("uw-api@example.test", "underwriter"),
        question="Which distributors sell the product in California?",
    )
    url = f"{API}/applications/{application.pk}/questions/{question.pk}/answer/"
    assert api_b.post(url, {"answer": "None"}, format="json").status_code == 404
    empty = api_a.post(url, {"answer": ""}, format="json")
    assert empty.status_code == 400 and "answer" in error_of(empty)["fields"]
    response = api_a.post(url, {"answer": "Only one, Pacific Valves Inc."}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == ApplicationStatus.REFERRED
    question.refresh_from_db()
    assert question.answer == "Only one, Pacific Valves Inc."
    again = api_a.post(url, {"answer": "Again"}, format="json")
    assert again.status_code == 400
