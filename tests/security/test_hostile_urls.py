"""Hostile URLs: ids beyond 64-bit integers and NUL characters in query strings and paths.

Both used to reach the database: a 20-digit id overflowed in the SQLite driver and a NUL in a
filter made PostgreSQL raise DataError, each a 500. Now the ``<id:...>`` converter
(portal/converters.py) makes such URLs 404 and ``RejectNulMiddleware`` answers 400.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from portal.converters import MAX_ID, IdConverter

HUGE_IDS = ["99999999999999999999999", str(MAX_ID + 1), "18446744073709551616"]


def _walk(patterns, prefix=""):
    for entry in patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            yield prefix + route


def _id_routes():
    """Every route of the project (pages, admin, API) with at least one integer id in it."""
    routes = set()
    for route in _walk(get_resolver().url_patterns):
        if route.startswith("^") or "(?P" in route:
            continue  # the admin's regex routes, which take no integers
        if re.search(r"<(?:id|int):", route):
            routes.add(route)
    return sorted(routes)


def _fill(route, huge):
    route = re.sub(r"<(?:id|int):\w+>", huge, route)
    route = re.sub(r"<path:\w+>", "1", route)
    route = re.sub(r"<(?:str|slug):\w+>", "x", route)
    return "/" + route


ID_ROUTES = _id_routes()


def test_the_walk_found_the_project_routes():
    # A guard against a walk that silently finds nothing.
    assert len(ID_ROUTES) > 60
    assert "app/claims/<id:pk>/documents/<id:document_pk>/download/" in ID_ROUTES


def test_page_routes_use_the_bounded_converter():
    # The API keeps <int:...> (its schema types them as integers) and guards with ids_or_404.
    pages = [r for r in ID_ROUTES if not r.startswith("api/")]
    assert pages and all("<int:" not in r for r in pages), [r for r in pages if "<int:" in r]


def test_the_converter_accepts_the_largest_id_and_refuses_one_more():
    converter = IdConverter()
    assert converter.to_python(str(MAX_ID)) == MAX_ID
    with pytest.raises(ValueError):
        converter.to_python(str(MAX_ID + 1))
    assert re.fullmatch(IdConverter.regex, "9" * 20) is None


@pytest.mark.parametrize("persona", ["applicant", "staff", "officer"])
def test_huge_ids_never_cause_a_server_error(
    persona, client, applicant_a, claims_handler, officer_x
):
    from django.contrib.auth.models import Group

    user = {"applicant": applicant_a, "staff": claims_handler, "officer": officer_x}[persona]
    if persona == "staff":
        user.is_superuser = True  # every admin page is reachable, so the id lookups all run
        user.save(update_fields=["is_superuser"])
        user.groups.add(*Group.objects.all())
    client.force_login(user)
    failures = []
    # Every shape of huge id for the applicant; one for the others, to keep the walk short.
    huge_ids = HUGE_IDS if persona == "applicant" else HUGE_IDS[:1]
    for route in ID_ROUTES:
        for huge in huge_ids:
            url = _fill(route, huge)
            bounded = "<id:" in route and not url.startswith("/admin/")
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                # The bounded converter: no view runs at all. (The admin answers an address its
                # converters refuse through its "<path:object_id>/" redirect, a 302.)
                expected = 404 if bounded else None
                if response.status_code >= 500 or expected and response.status_code != expected:
                    failures.append((method, url, response.status_code))
    assert failures == []


def test_a_huge_claim_document_id_is_404_not_an_overflow(client_a):
    response = client_a.get("/app/claims/99999999999999999999999/documents/1/download/")
    assert response.status_code == 404
    response = client_a.get("/api/v1/claims/1/documents/99999999999999999999999/file/")
    assert response.status_code == 404


# --- NUL characters -------------------------------------------------------------------------

NUL_PAGES = [
    "/products/?q=%00",
    "/products/?ip_type=%00",
    "/app/assets/?q=%00",
    "/app/claims/?status=%00",
    "/app/subsidies/?q=%00",
    "/app/applications/?status=%00",
    "/officer/?q=%00",
    "/officer/queue/?q=%00&status=%00&programme=%00",
    "/public/subsidies/?q=%00",
    "/verify/?number=%00&code=%00",
    "/app/invitations/%00abc/",
    "/admin/claims/claim/?q=%00",
    "/admin/underwriting/application/?q=%00",
]


@pytest.mark.parametrize("url", NUL_PAGES)
def test_nul_in_a_query_string_is_a_400_page(url, client, applicant_a, officer_x, claims_handler):
    if url.startswith("/officer/"):
        client.force_login(officer_x)
    elif url.startswith("/admin/"):
        claims_handler.is_superuser = True
        claims_handler.save(update_fields=["is_superuser"])
        client.force_login(claims_handler)
    else:
        client.force_login(applicant_a)
    response = client.get(url)
    assert response.status_code == 400
    assert "text/html" in response["Content-Type"]


FORM = "application/x-www-form-urlencoded"


def test_nul_in_a_form_field_key_or_value_is_a_400(client_a):
    response = client_a.post("/app/firms/new/", "name_zh=a%00b", content_type=FORM)
    assert response.status_code == 400
    response = client_a.post("/app/firms/new/", "na%00me=x", content_type=FORM)
    assert response.status_code == 400


def test_nul_in_a_multipart_form_is_a_400_too(client_a):
    # A questionnaire step keeps unfinished answers as typed: on PostgreSQL a NUL in one of them
    # made saving the draft raise DataError (found by tests/security/test_fuzz_forms.py).
    response = client_a.post("/app/firms/new/", {"name_zh": "a\x00b"})
    assert response.status_code == 400
    response = client_a.post("/app/firms/new/", {"name_zh": "ok", "\x00": "x"})
    assert response.status_code == 400


def test_nul_under_the_api_is_left_to_the_api(client_a):
    response = client_a.get("/api/v1/products/?q=%00")
    assert response.status_code in (200, 400)
    assert response["Content-Type"].startswith("application/json")


def test_an_ordinary_query_string_still_works(client_a):
    assert client_a.get("/products/?q=专利").status_code == 200


# --- Digits int() cannot read --------------------------------------------------------------
# "²".isdigit() is true but int("²") raises ValueError: each of these was a 500.


@pytest.mark.parametrize("value", ["²", "٣", "99999999999999999999999"])
def test_odd_digits_in_the_claim_policy_choice(client_a, value):
    assert client_a.get("/app/claims/new/", {"policy": value}).status_code in (200, 302, 404)


@pytest.mark.parametrize("value", ["²", "99999999999999999999999"])
def test_odd_digits_in_officer_parameters(client, officer_x, value):
    client.force_login(officer_x)
    assert client.get("/officer/budget/", {"year": value}).status_code == 200
    response = client.post("/officer/requests/approve/", {"request": [value, "1"]})
    assert response.status_code < 500
    response = client.get("/api/v1/officer/requests/", {"programme": value})
    assert response.status_code == 200
