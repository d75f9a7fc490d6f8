"""What every endpoint of the REST API shares: the error shape and its language, API tokens (the
endpoints and the workspace pages), /api/v1/me/, the schema and its docs, idempotent creates."""

import json
import re
from datetime import timedelta

import pytest
import yaml
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import CONSTANTS, knox_settings

from portal.choices import MembershipRole
from portal.models import IdempotencyKey, Notification
from tests.factories import MembershipFactory, UserFactory

ME = "/api/v1/me/"
TOKENS = "/api/v1/tokens/"
FIRM_TOKENS = "/app/firm/tokens/"
OFFICER_TOKENS = "/officer/tokens/"


def token_url(token_key: str) -> str:
    return f"{TOKENS}{token_key}/"


def key_of(header: str) -> str:
    """The token itself, from an Authorization header value."""
    return header.split(" ", 1)[1]


def token_row(header: str) -> AuthToken:
    return AuthToken.objects.get(token_key=key_of(header)[: CONSTANTS.TOKEN_KEY_LENGTH])


@pytest.fixture
def member_a(firm_a):
    return MembershipFactory(
        firm=firm_a, role=MembershipRole.MEMBER, user__email="m@example.test"
    ).user


@pytest.fixture
def no_firm_user(db):
    return UserFactory(email="nofirm@example.test")


# --- The error shape and its language -------------------------------------------------------------


def test_unauthenticated_is_401_in_the_error_shape(api_client, db):
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "error": {"code": "not_authenticated", "message": "身份认证信息未提供。"}
    }
    assert response["Content-Language"] == "zh-hans"


def test_unauthenticated_in_english(api_client, db):
    response = api_client.get(ME, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Authentication credentials were not provided."
    assert response["Content-Language"] == "en"
    assert "Accept-Language" in response["Vary"]


def test_unknown_token_is_401(api_client, db):
    response = api_client.get(ME, HTTP_AUTHORIZATION="Token " + "0" * 64)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_not_found_is_404_not_found(api_client, applicant_a, token_for):
    response = api_client.delete(
        token_url("0123456789abcde"), HTTP_AUTHORIZATION=token_for(applicant_a)
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert set(response.json()["error"]) == {"code", "message"}


def test_validation_error_has_field_messages_in_chinese_by_default(api_client, applicant_a):
    api_client.force_login(applicant_a)
    response = api_client.post(TOKENS, {"expiry_days": 1000}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"]
    assert error["fields"] == {"expiry_days": ["请确保该值小于或者等于 90。"]}
    assert not AuthToken.objects.exists()


def test_validation_error_in_english_with_accept_language(api_client, applicant_a):
    api_client.force_login(applicant_a)
    response = api_client.post(
        TOKENS, {"expiry_days": "soon"}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "Some fields need your attention."
    assert error["fields"] == {"expiry_days": ["A valid integer is required."]}
    assert response["Content-Language"] == "en"


def test_malformed_json_is_a_parse_error(api_client, applicant_a):
    api_client.force_login(applicant_a)
    response = api_client.post(TOKENS, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_method_not_allowed_keeps_the_shape(api_client, applicant_a, token_for):
    response = api_client.put(ME, {}, format="json", HTTP_AUTHORIZATION=token_for(applicant_a))
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_nested_field_errors_are_flattened():
    from portal.api import _field_messages

    detail = {
        "name": ["Required."],
        "address": {"city": ["Too long."]},
        "items": [{}, {"amount": ["Not a number."]}],
        "non_field_errors": ["Dates overlap."],
    }
    assert _field_messages(detail) == {
        "name": ["Required."],
        "address.city": ["Too long."],
        "items.1.amount": ["Not a number."],
        "non_field_errors": ["Dates overlap."],
    }
    assert _field_messages(["Refused."]) == {"non_field_errors": ["Refused."]}


def test_error_json_answers_api_paths_only(rf, db):
    from django.utils import translation

    from portal.api import error_json

    response = error_json(rf.get("/api/v1/nothing-here/"), 404)
    assert response.status_code == 404
    assert json.loads(response.content) == {"error": {"code": "not_found", "message": "未找到。"}}
    with translation.override("en"):
        response = error_json(rf.get("/api/v1/claims/1/"), 500)
    assert json.loads(response.content)["error"] == {
        "code": "error",
        "message": "A server error occurred.",
    }
    assert error_json(rf.get("/app/claims/"), 404) is None


# --- Tokens through the API -----------------------------------------------------------------------


def test_owner_creates_a_token_with_the_session_and_it_authenticates(api_client, applicant_a):
    api_client.force_login(applicant_a)
    response = api_client.post(TOKENS, format="json")
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    token = body["token"]
    assert len(token) == knox_settings.AUTH_TOKEN_CHARACTER_LENGTH
    assert body["token_key"] == token[: CONSTANTS.TOKEN_KEY_LENGTH]
    assert body["prefix"] == token[:8]
    assert body["current"] is False
    stored = AuthToken.objects.get(user=applicant_a)
    assert stored.digest != token and token not in stored.digest  # only a hash is kept
    days = (stored.expiry - timezone.now()).total_seconds() / 86400
    assert 89.9 < days <= 90

    api_client.logout()
    me = api_client.get(ME, HTTP_AUTHORIZATION=f"Token {token}")
    assert me.status_code == 200
    assert me.json()["email"] == applicant_a.email


def test_owner_creates_a_token_with_a_token_and_a_shorter_expiry(
    api_client, applicant_a, token_for
):
    response = api_client.post(
        TOKENS, {"expiry_days": 7}, format="json", HTTP_AUTHORIZATION=token_for(applicant_a)
    )
    assert response.status_code == 201
    expiry = AuthToken.objects.get(token_key=response.json()["token_key"]).expiry
    assert timedelta(days=6, hours=23) < expiry - timezone.now() <= timedelta(days=7)


def test_a_plain_member_may_not_create_a_token(api_client, member_a, token_for):
    header = token_for(member_a)  # made by hand: members may still use and list tokens
    response = api_client.post(TOKENS, format="json", HTTP_AUTHORIZATION=header)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert AuthToken.objects.filter(user=member_a).count() == 1
    assert api_client.get(TOKENS, HTTP_AUTHORIZATION=header).json()["count"] == 1


def test_an_applicant_without_a_firm_may_not_create_a_token(api_client, no_firm_user):
    api_client.force_login(no_firm_user)
    response = api_client.post(TOKENS, format="json")
    assert response.status_code == 403
    assert not AuthToken.objects.exists()


def test_staff_may_not_create_a_token(api_client, underwriter):
    api_client.force_login(underwriter)
    assert api_client.post(TOKENS, format="json").status_code == 403


def test_an_officer_creates_a_token(api_client, officer_x):
    api_client.force_login(officer_x)
    response = api_client.post(TOKENS, format="json")
    assert response.status_code == 201
    api_client.logout()
    me = api_client.get(ME, HTTP_AUTHORIZATION=f"Token {response.json()['token']}").json()
    assert me["officer"]["authority"]["name"]
    assert me["firms"] == []
    assert me["can_create_tokens"] is True


def test_list_shows_own_live_tokens_only(api_client, applicant_a, applicant_b, token_for):
    header = token_for(applicant_a)
    token_for(applicant_a)
    token_for(applicant_a, expiry=timedelta(seconds=-1))  # expired: not listed
    token_for(applicant_b)
    response = api_client.get(TOKENS, HTTP_AUTHORIZATION=header)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    rows = body["results"]
    assert {row["token_key"] for row in rows} <= set(
        AuthToken.objects.filter(user=applicant_a).values_list("token_key", flat=True)
    )
    assert [row["current"] for row in rows].count(True) == 1
    current = next(row for row in rows if row["current"])
    assert current["token_key"] == token_row(header).token_key
    assert all(set(row) == {"token_key", "prefix", "created", "expiry", "current"} for row in rows)


def test_token_authenticates_me(api_client, applicant_a, firm_a, firm_b, token_for):
    MembershipFactory(firm=firm_b, user=applicant_a, role=MembershipRole.MEMBER)
    response = api_client.get(ME, HTTP_AUTHORIZATION=token_for(applicant_a))
    assert response.status_code == 200
    me = response.json()
    assert me["email"] == applicant_a.email
    assert me["language"] == "zh-hans"
    assert {(firm["id"], firm["role"]) for firm in me["firms"]} == {
        (firm_a.pk, "owner"),
        (firm_b.pk, "member"),
    }
    assert me["officer"] is None
    assert me["staff_groups"] == []
    assert me["can_create_tokens"] is True


def test_me_names_firms_in_the_language_of_the_request(api_client, applicant_a, token_for):
    header = token_for(applicant_a)
    chinese = api_client.get(ME, HTTP_AUTHORIZATION=header).json()["firms"][0]["name"]
    english = api_client.get(ME, HTTP_AUTHORIZATION=header, HTTP_ACCEPT_LANGUAGE="en").json()
    assert (chinese, english["firms"][0]["name"]) == ("甲公司", "Firm A")


def test_me_of_staff_lists_their_groups(api_client, underwriter):
    api_client.force_login(underwriter)
    me = api_client.get(ME).json()
    assert me["staff_groups"] == ["underwriter"]
    assert me["can_create_tokens"] is False


def test_expired_token_is_401(api_client, applicant_a, token_for):
    header = token_for(applicant_a)
    AuthToken.objects.filter(user=applicant_a).update(expiry=timezone.now() - timedelta(minutes=1))
    response = api_client.get(ME, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert not AuthToken.objects.filter(user=applicant_a).exists()  # knox deletes it


def test_revoked_token_is_401(api_client, applicant_a, token_for):
    header = token_for(applicant_a)
    token_key = token_row(header).token_key
    response = api_client.delete(token_url(token_key), HTTP_AUTHORIZATION=header)
    assert response.status_code == 204
    assert not AuthToken.objects.filter(token_key=token_key).exists()
    assert api_client.get(ME, HTTP_AUTHORIZATION=header).status_code == 401


def test_revoking_with_the_session(api_client, applicant_a, token_for):
    token_key = token_row(token_for(applicant_a)).token_key
    api_client.force_login(applicant_a)
    assert api_client.delete(token_url(token_key)).status_code == 204
    assert not AuthToken.objects.exists()


def test_revoking_another_users_token_is_404(api_client, applicant_a, applicant_b, token_for):
    other = token_row(token_for(applicant_b))
    response = api_client.delete(
        token_url(other.token_key), HTTP_AUTHORIZATION=token_for(applicant_a)
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert AuthToken.objects.filter(pk=other.pk).exists()


def test_a_malformed_token_key_is_404(api_client, applicant_a, token_for):
    response = api_client.delete(
        token_url("not%20a%20key%00"), HTTP_AUTHORIZATION=token_for(applicant_a)
    )
    assert response.status_code == 404


def test_the_number_of_tokens_is_limited(api_client, applicant_a, token_for):
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    header = token_for(applicant_a)
    for _ in range(limit - 1):
        token_for(applicant_a)
    response = api_client.post(TOKENS, format="json", HTTP_AUTHORIZATION=header)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "token_limit"
    assert AuthToken.objects.filter(user=applicant_a).count() == limit


# --- Token pages in the workspaces ----------------------------------------------------------------


def _new_token_on(page: str) -> str:
    match = re.search(r'id="new-token-value" value="([^"]+)"', page)
    assert match, "the new token is shown"
    return match.group(1)


def test_owner_creates_uses_and_revokes_a_token_on_the_firm_page(client_a, applicant_a, api_client):
    assert client_a.get(FIRM_TOKENS).status_code == 200
    response = client_a.post(FIRM_TOKENS, {"expiry_days": "30"})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert "no-store" in response["Cache-Control"]
    token = _new_token_on(response.content.decode())
    stored = AuthToken.objects.get(user=applicant_a)
    assert stored.token_key == token[: CONSTANTS.TOKEN_KEY_LENGTH]
    assert timedelta(days=29, hours=23) < stored.expiry - timezone.now() <= timedelta(days=30)
    assert api_client.get(ME, HTTP_AUTHORIZATION=f"Token {token}").status_code == 200

    # Shown once: the list has only its prefix.
    page = client_a.get(FIRM_TOKENS).content.decode()
    assert token not in page
    assert f"<code>{token[:8]}…</code>" in page

    response = client_a.post(f"{FIRM_TOKENS}{stored.token_key}/revoke/")
    assert response.status_code == 302 and response["Location"] == FIRM_TOKENS
    assert not AuthToken.objects.exists()
    assert api_client.get(ME, HTTP_AUTHORIZATION=f"Token {token}").status_code == 401


def test_the_firm_page_refuses_a_longer_expiry(client_a):
    response = client_a.post(FIRM_TOKENS, {"expiry_days": "365"})
    assert response.status_code == 400
    assert not AuthToken.objects.exists()
    assert 'id="new-token"' not in response.content.decode()


def test_a_plain_member_gets_403_on_the_firm_page(client, member_a):
    client.force_login(member_a)
    assert client.get(FIRM_TOKENS).status_code == 403
    assert client.post(FIRM_TOKENS, {"expiry_days": "30"}).status_code == 403
    assert not AuthToken.objects.exists()


def test_without_a_firm_the_page_sends_to_firm_registration(client, no_firm_user):
    client.force_login(no_firm_user)
    response = client.get(FIRM_TOKENS)
    assert response.status_code == 302
    assert response["Location"] == "/app/firms/new/"


def test_the_firm_page_links_to_tokens_for_owners_only(client_a, client, member_a):
    assert 'id="firm-api-tokens"' in client_a.get("/app/firm/").content.decode()
    client.force_login(member_a)
    assert 'id="firm-api-tokens"' not in client.get("/app/firm/").content.decode()


def test_only_the_owner_of_a_token_revokes_it_on_the_page(client_a, applicant_b, token_for):
    other = token_row(token_for(applicant_b))
    assert client_a.post(f"{FIRM_TOKENS}{other.token_key}/revoke/").status_code == 404
    assert AuthToken.objects.filter(pk=other.pk).exists()


def test_revoke_needs_a_post(client_a, applicant_a, token_for):
    mine = token_row(token_for(applicant_a))
    assert client_a.get(f"{FIRM_TOKENS}{mine.token_key}/revoke/").status_code == 405
    assert AuthToken.objects.filter(pk=mine.pk).exists()


def test_the_page_enforces_csrf(applicant_a):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(applicant_a)
    assert client.post(FIRM_TOKENS, {"expiry_days": "30"}).status_code == 403
    assert not AuthToken.objects.exists()


def test_an_officer_creates_and_revokes_a_token_on_the_officer_page(client, officer_x):
    client.force_login(officer_x)
    page = client.get(OFFICER_TOKENS)
    assert page.status_code == 200
    assert 'id="nav-officer-tokens"' in page.content.decode()
    token = _new_token_on(client.post(OFFICER_TOKENS, {"expiry_days": "90"}).content.decode())
    stored = AuthToken.objects.get(user=officer_x)
    assert stored.token_key == token[: CONSTANTS.TOKEN_KEY_LENGTH]
    response = client.post(f"{OFFICER_TOKENS}{stored.token_key}/revoke/")
    assert response.status_code == 302 and response["Location"] == OFFICER_TOKENS
    assert not AuthToken.objects.exists()


def test_the_officer_page_is_for_officers(client_a):
    assert client_a.get(OFFICER_TOKENS).status_code == 403


# --- Schema and docs ------------------------------------------------------------------------------


def test_schema_is_openapi_3_in_yaml_and_json(api_client, db):
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")

    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/me/", "/api/v1/tokens/", "/api/v1/tokens/{token_key}/"} <= set(schema["paths"])
    assert "knoxApiToken" in schema["components"]["securitySchemes"]
    # The error shape is documented on the operations.
    me = schema["paths"]["/api/v1/me/"]["get"]["responses"]
    assert me["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_docs_page_has_no_inline_script(api_client, db):
    response = api_client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    scripts = re.findall(r"<script\b([^>]*)>", page, flags=re.IGNORECASE)
    assert scripts, "Swagger UI is loaded"
    assert all(re.search(r"\bsrc\s*=", attributes) for attributes in scripts)
    # And the start-up script it points to is served.
    start = re.search(r'<script\b[^>]*src="([^"]*\?script=[^"]*)"', page)
    assert start and api_client.get(start.group(1).replace("&amp;", "&")).status_code == 200


# --- Idempotency-Key (portal.api.idempotent, on a test-only endpoint) -----------------------------

NOTES = "/api/v1/notes/"
idempotency_urls = pytest.mark.urls("tests.api.idempotency_urls")


def _post_note(client, body, key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(NOTES, body, format="json", **headers, **extra)


@idempotency_urls
def test_same_key_and_body_replays_the_first_response(api_client, applicant_a):
    api_client.force_authenticate(applicant_a)
    first = _post_note(api_client, {"title": "Renewal"}, key="k-1")
    again = _post_note(api_client, {"title": "Renewal"}, key="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert first["Idempotency-Key"] == again["Idempotency-Key"] == "k-1"
    assert Notification.objects.filter(user=applicant_a).count() == 1
    assert IdempotencyKey.objects.filter(user=applicant_a, key="k-1").count() == 1


@idempotency_urls
def test_same_key_with_another_body_is_422(api_client, applicant_a):
    api_client.force_authenticate(applicant_a)
    assert _post_note(api_client, {"title": "Renewal"}, key="k-2").status_code == 201
    response = _post_note(api_client, {"title": "Something else"}, key="k-2")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Notification.objects.filter(user=applicant_a).count() == 1


@idempotency_urls
def test_without_a_key_every_request_creates(api_client, applicant_a):
    api_client.force_authenticate(applicant_a)
    _post_note(api_client, {"title": "Renewal"})
    _post_note(api_client, {"title": "Renewal"})
    assert Notification.objects.filter(user=applicant_a).count() == 2


@idempotency_urls
def test_keys_belong_to_one_user(api_client, applicant_a, applicant_b):
    api_client.force_authenticate(applicant_a)
    _post_note(api_client, {"title": "Renewal"}, key="shared")
    api_client.force_authenticate(applicant_b)
    response = _post_note(api_client, {"title": "Other"}, key="shared")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Notification.objects.count() == 2


@idempotency_urls
def test_a_refused_request_does_not_use_up_the_key(api_client, applicant_a):
    api_client.force_authenticate(applicant_a)
    refused = _post_note(api_client, {"title": ""}, key="k-3", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"title": ["This field may not be blank."]}
    assert _post_note(api_client, {"title": "Fixed"}, key="k-3").status_code == 201
    assert Notification.objects.filter(user=applicant_a).count() == 1


@idempotency_urls
def test_an_overlong_key_is_400(api_client, applicant_a):
    api_client.force_authenticate(applicant_a)
    response = _post_note(api_client, {"title": "Renewal"}, key="x" * 101)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key"
    assert not Notification.objects.exists()


def test_the_schema_documents_idempotent_operations():
    from drf_spectacular.generators import SchemaGenerator

    from tests.api import idempotency_urls as urls

    schema = SchemaGenerator(patterns=urls.urlpatterns).get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/notes/"]["post"]
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= operation["parameters"][0].items()
    assert {"400", "401", "403", "415", "422"} <= set(operation["responses"])
    error = operation["responses"]["422"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}


@idempotency_urls
def test_a_malformed_body_with_a_key_is_a_parse_error(api_client, applicant_a):
    api_client.force_authenticate(applicant_a)
    response = api_client.post(
        NOTES, "{oops", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-4"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert not IdempotencyKey.objects.exists()


def test_a_request_django_refuses_before_any_view_keeps_the_error_shape(api_client, officer_x):
    """Too many fields for Django's limit: refused by the framework itself, still JSON."""
    api_client.force_authenticate(officer_x)
    fields = "&".join(f"request_ids={n}" for n in range(1100))
    response = api_client.post(
        "/api/v1/officer/batches/", fields, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "parse_error"
