"""IP assets through the applicant workspace: /app/assets/..."""

import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.choices import AssetKind, LegalStatus
from portal.models import IPAsset
from tests.factories import IPAssetFactory, MembershipFactory, make_patent_number

LIST_URL = "/app/assets/"
LIST_QUERY_BOUND = 8


def create_url(kind):
    return f"/app/assets/new/{kind}/"


def detail_url(asset):
    return f"/app/assets/{asset.pk}/"


def edit_url(asset):
    return f"/app/assets/{asset.pk}/edit/"


def delete_url(asset):
    return f"/app/assets/{asset.pk}/delete/"


def patent_data(**overrides):
    data = {
        "number": make_patent_number(4242, type_digit="1", year=2019),
        "patent_type": "",
        "title": "一种热管散热装置",
        "filing_date": "2019-03-12",
        "grant_date": "2021-07-01",
        "claim_count": "10",
        "legal_status": LegalStatus.GRANTED,
        "family_countries": "US, ep",
        "licences_granted": "0",
    }
    data.update(overrides)
    return data


FORM_DATA = {
    AssetKind.PATENT: patent_data(),
    AssetKind.TRADEMARK: {
        "number": " 1234 5678 ",
        "title": "星河",
        "nice_classes": "9，42, 9",
        "grant_date": "2020-01-01",
        "expiry_date": "",
        "legal_status": LegalStatus.GRANTED,
        "licences_granted": "2",
    },
    AssetKind.COPYRIGHT: {
        "number": "2023sr0123456",
        "title": "星河数据平台软件V1.0",
        "work_kind": "software",
        "grant_date": "2023-05-06",
        "legal_status": LegalStatus.GRANTED,
    },
    AssetKind.GEOGRAPHICAL_INDICATION: {
        "number": "",
        "title": "阳山水蜜桃",
        "grant_date": "2008-10-01",
        "legal_status": LegalStatus.GRANTED,
        "description": "无锡惠山区阳山镇",
    },
    AssetKind.PLANT_VARIETY: {
        "number": "CNA20191234.5",
        "title": "锡农1号",
        "grant_date": "2021-01-01",
        "expiry_date": "2036-12-31",
        "legal_status": LegalStatus.GRANTED,
    },
    AssetKind.IC_LAYOUT: {
        "number": "BS.215500123.4",
        "title": "低功耗电源管理芯片",
        "filing_date": "2021-09-01",
        "grant_date": "2022-01-10",
        "expiry_date": "2031-08-31",
        "legal_status": LegalStatus.GRANTED,
    },
    AssetKind.TRADE_SECRET: {
        "title": "配方工艺",
        "description": "涂层配方，由三名员工掌握，签署保密协议。",
    },
}

EXPECTED_NUMBER = {
    AssetKind.PATENT: make_patent_number(4242, type_digit="1", year=2019),
    AssetKind.TRADEMARK: "12345678",
    AssetKind.COPYRIGHT: "2023SR0123456",
    AssetKind.GEOGRAPHICAL_INDICATION: "",
    AssetKind.PLANT_VARIETY: "CNA20191234.5",
    AssetKind.IC_LAYOUT: "BS.215500123.4",
    AssetKind.TRADE_SECRET: "",
}


def page(response) -> str:
    return response.content.decode()


# --- Create, list, edit, delete for every kind ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(AssetKind.values))
def test_create_list_edit_delete_each_kind(client_a, firm_a, applicant_a, kind):
    assert client_a.get(create_url(kind)).status_code == 200

    response = client_a.post(create_url(kind), FORM_DATA[kind])
    assert response.status_code == 302, response.context["form"].errors
    asset = IPAsset.objects.get(firm=firm_a)
    assert response.url == detail_url(asset)
    assert asset.kind == kind
    assert asset.number == EXPECTED_NUMBER[kind]
    assert asset.title == FORM_DATA[kind]["title"]

    listing = page(client_a.get(LIST_URL))
    assert asset.title in listing
    assert detail_url(asset) in listing

    detail = client_a.get(detail_url(asset))
    assert detail.status_code == 200
    assert asset.title in page(detail)

    assert client_a.get(edit_url(asset)).status_code == 200
    response = client_a.post(edit_url(asset), {**FORM_DATA[kind], "title": "改过的名称"})
    assert response.status_code == 302, response.context["form"].errors
    assert response.url == detail_url(asset)
    asset.refresh_from_db()
    assert asset.title == "改过的名称"
    assert asset.number == EXPECTED_NUMBER[kind]

    response = client_a.post(delete_url(asset))
    assert response.status_code == 302
    assert response.url == LIST_URL
    assert not IPAsset.objects.filter(pk=asset.pk).exists()
    assert list(client_a.get(LIST_URL).context["page"].object_list) == []


@pytest.mark.django_db
def test_kind_specific_fields_are_cleaned(client_a, firm_a):
    client_a.post(create_url(AssetKind.TRADEMARK), FORM_DATA[AssetKind.TRADEMARK])
    client_a.post(create_url(AssetKind.PATENT), FORM_DATA[AssetKind.PATENT])
    trademark = IPAsset.objects.get(firm=firm_a, kind=AssetKind.TRADEMARK)
    assert trademark.nice_classes == [9, 42]
    assert trademark.licences_granted == 2
    assert trademark.patent_type == ""
    patent = IPAsset.objects.get(firm=firm_a, kind=AssetKind.PATENT)
    assert patent.family_countries == ["US", "EP"]
    assert patent.claim_count == 10


@pytest.mark.django_db
def test_bad_nice_class_and_country_are_field_errors(client_a, firm_a):
    response = client_a.post(
        create_url(AssetKind.TRADEMARK), {**FORM_DATA[AssetKind.TRADEMARK], "nice_classes": "9, 46"}
    )
    assert response.status_code == 200
    assert "nice_classes" in response.context["form"].errors
    response = client_a.post(create_url(AssetKind.PATENT), patent_data(family_countries="US, USA"))
    assert response.status_code == 200
    assert "family_countries" in response.context["form"].errors
    assert not IPAsset.objects.exists()


@pytest.mark.django_db
def test_unknown_kind_is_404(client_a):
    assert client_a.get(create_url("spaceship")).status_code == 404


@pytest.mark.django_db
def test_trade_secret_needs_a_description(client_a, firm_a):
    response = client_a.post(
        create_url(AssetKind.TRADE_SECRET), {"title": "配方", "description": ""}
    )
    assert response.status_code == 200
    assert "description" in response.context["form"].errors
    assert not IPAsset.objects.exists()


# --- Patent numbers ---------------------------------------------------------------------------

WRONG_CHECK = "ZL201510012345.6"  # the right check character is 3
ENGLISH_CHECK_ERROR = (
    "The check character of this patent number does not match its digits: it should be 3."
)


@pytest.mark.django_db
def test_wrong_check_character_is_a_field_error_in_chinese_by_default(client_a):
    response = client_a.post(create_url(AssetKind.PATENT), patent_data(number=WRONG_CHECK))
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in page(response)
    errors = response.context["form"].errors
    assert list(errors) == ["number"]
    assert errors.as_data()["number"][0].code == "patent_check"
    assert "3" in errors["number"][0]
    # The error is shown next to the field, and the user's input is kept for correction.
    assert 'id="error_1_id_number"' in page(response)
    assert WRONG_CHECK in page(response)
    assert not IPAsset.objects.exists()


@pytest.mark.django_db
def test_wrong_check_character_is_explained_in_english_with_the_cookie(client_a):
    client_a.cookies["portal_language"] = "en"
    response = client_a.post(create_url(AssetKind.PATENT), patent_data(number=WRONG_CHECK))
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "en"
    assert ENGLISH_CHECK_ERROR in page(response)
    assert not IPAsset.objects.exists()


@pytest.mark.django_db
def test_malformed_patent_number_and_bad_type_digit(client_a):
    client_a.cookies["portal_language"] = "en"
    response = client_a.post(create_url(AssetKind.PATENT), patent_data(number="ZL2015100123"))
    assert "A Chinese patent number has 12 digits" in page(response)
    response = client_a.post(
        create_url(AssetKind.PATENT), patent_data(number=make_patent_number(1, type_digit="5"))
    )
    assert "The type digit of this patent number is not 1, 2, 3, 8 or 9" in page(response)
    assert not IPAsset.objects.exists()


@pytest.mark.django_db
def test_patent_number_help_text_example_is_itself_valid(client_a):
    from portal import ipnumbers

    client_a.cookies["portal_language"] = "en"
    response = client_a.get(create_url(AssetKind.PATENT))
    help_text = str(response.context["form"].fields["number"].help_text)
    example = help_text.split("For example ")[1].split(" ")[0]
    ipnumbers.parse_cn_patent_number(example)  # must not raise


@pytest.mark.django_db
def test_number_is_stored_in_canonical_form(client_a, firm_a):
    digits = "201910123456"  # check character X
    response = client_a.post(create_url(AssetKind.PATENT), patent_data(number=f"cn {digits}．x"))
    assert response.status_code == 302
    assert IPAsset.objects.get(firm=firm_a).number == f"ZL{digits}.X"


# --- Derived patent type and expiry -----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "type_digit, patent_type, filing, expiry",
    [
        ("1", "invention", "2019-03-12", date(2039, 3, 11)),
        ("8", "invention", "2019-03-12", date(2039, 3, 11)),
        ("2", "utility_model", "2020-02-29", date(2030, 2, 28)),
        ("3", "design", "2021-05-31", date(2031, 5, 30)),
        ("3", "design", "2021-06-01", date(2036, 5, 31)),
    ],
)
def test_patent_type_read_from_number_and_expiry_derived(
    client_a, firm_a, type_digit, patent_type, filing, expiry
):
    year = int(filing[:4])
    number = make_patent_number(77, type_digit=type_digit, year=year)
    response = client_a.post(
        create_url(AssetKind.PATENT),
        patent_data(number=number, patent_type="", filing_date=filing, grant_date=""),
    )
    assert response.status_code == 302, response.context["form"].errors
    asset = IPAsset.objects.get(firm=firm_a)
    assert asset.patent_type == patent_type
    assert asset.expiry_date == expiry
    assert asset.legal_status == LegalStatus.GRANTED


@pytest.mark.django_db
def test_patent_past_its_term_is_marked_expired(client_a, firm_a):
    number = make_patent_number(5, type_digit="2", year=2010)
    response = client_a.post(
        create_url(AssetKind.PATENT),
        patent_data(number=number, filing_date="2010-04-01", grant_date=""),
    )
    assert response.status_code == 302
    asset = IPAsset.objects.get(firm=firm_a)
    assert asset.expiry_date == date(2020, 3, 31)
    assert asset.legal_status == LegalStatus.EXPIRED


@pytest.mark.django_db
def test_patent_type_contradicting_the_number_is_rejected(client_a):
    client_a.cookies["portal_language"] = "en"
    response = client_a.post(
        create_url(AssetKind.PATENT),
        patent_data(number=make_patent_number(9, type_digit="1"), patent_type="design"),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "patent_type" in errors
    assert "According to its number this patent is of type" in page(response)
    assert not IPAsset.objects.exists()


@pytest.mark.django_db
def test_editing_the_filing_date_recomputes_the_expiry(client_a, firm_a):
    client_a.post(create_url(AssetKind.PATENT), patent_data(grant_date=""))
    asset = IPAsset.objects.get(firm=firm_a)
    assert asset.expiry_date == date(2039, 3, 11)
    response = client_a.post(
        edit_url(asset),
        patent_data(patent_type="invention", filing_date="2019-06-01", grant_date=""),
    )
    assert response.status_code == 302, response.context["form"].errors
    asset.refresh_from_db()
    assert asset.expiry_date == date(2039, 5, 31)


@pytest.mark.django_db
def test_trademark_expiry_derived_from_registration_date(client_a, firm_a):
    response = client_a.post(create_url(AssetKind.TRADEMARK), FORM_DATA[AssetKind.TRADEMARK])
    assert response.status_code == 302
    assert IPAsset.objects.get(firm=firm_a).expiry_date == date(2029, 12, 31)


@pytest.mark.django_db
def test_trademark_expiry_given_by_the_user_is_kept(client_a, firm_a):
    data = {**FORM_DATA[AssetKind.TRADEMARK], "expiry_date": "2030-06-30"}
    response = client_a.post(create_url(AssetKind.TRADEMARK), data)
    assert response.status_code == 302
    assert IPAsset.objects.get(firm=firm_a).expiry_date == date(2030, 6, 30)


@pytest.mark.django_db
def test_grant_before_filing_is_rejected(client_a):
    response = client_a.post(
        create_url(AssetKind.PATENT), patent_data(filing_date="2020-01-01", grant_date="2019-01-01")
    )
    assert response.status_code == 200
    assert "grant_date" in response.context["form"].errors


# --- Duplicates -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_duplicate_number_in_the_same_firm_is_rejected_with_a_message(client_a, firm_a):
    client_a.cookies["portal_language"] = "en"
    existing = IPAssetFactory(firm=firm_a)
    # Typed differently (prefix, spaces), but the same patent.
    typed = "CN " + existing.number.removeprefix("ZL")
    response = client_a.post(create_url(AssetKind.PATENT), patent_data(number=typed))
    assert response.status_code == 200
    assert f"This firm already has a Patent with number {existing.number}." in page(response)
    assert IPAsset.objects.filter(firm=firm_a).count() == 1


@pytest.mark.django_db
def test_duplicate_trademark_number_is_rejected(client_a, firm_a):
    client_a.cookies["portal_language"] = "en"
    assert (
        client_a.post(create_url(AssetKind.TRADEMARK), FORM_DATA[AssetKind.TRADEMARK]).status_code
        == 302
    )
    response = client_a.post(create_url(AssetKind.TRADEMARK), FORM_DATA[AssetKind.TRADEMARK])
    assert response.status_code == 200
    assert "This firm already has a Trademark with number 12345678." in page(response)
    assert IPAsset.objects.filter(firm=firm_a).count() == 1


@pytest.mark.django_db
def test_same_number_is_allowed_in_another_firm(client_a, firm_a, firm_b):
    IPAssetFactory(firm=firm_b, number=EXPECTED_NUMBER[AssetKind.PATENT])
    response = client_a.post(create_url(AssetKind.PATENT), FORM_DATA[AssetKind.PATENT])
    assert response.status_code == 302, response.context["form"].errors
    assert IPAsset.objects.filter(number=EXPECTED_NUMBER[AssetKind.PATENT]).count() == 2
    assert IPAsset.objects.filter(firm=firm_a).count() == 1


@pytest.mark.django_db
def test_editing_to_another_assets_number_is_rejected(client_a, firm_a):
    client_a.cookies["portal_language"] = "en"
    first = IPAssetFactory(firm=firm_a)
    second = IPAssetFactory(firm=firm_a)
    response = client_a.post(
        edit_url(second), patent_data(number=first.number, patent_type="invention")
    )
    assert response.status_code == 200
    assert "This firm already has a Patent with number" in page(response)
    second.refresh_from_db()
    assert second.number != first.number


# --- Who may see what -------------------------------------------------------------------------


@pytest.mark.django_db
def test_other_firm_gets_404_and_the_asset_survives(client_b, firm_a):
    asset = IPAssetFactory(firm=firm_a, title="甲的专利")
    assert client_b.get(detail_url(asset)).status_code == 404
    assert client_b.get(edit_url(asset)).status_code == 404
    assert client_b.post(edit_url(asset), patent_data(title="被改")).status_code == 404
    assert client_b.post(delete_url(asset)).status_code == 404
    asset.refresh_from_db()
    assert asset.title == "甲的专利"
    assert "甲的专利" not in page(client_b.get(LIST_URL))


@pytest.mark.django_db
def test_delete_needs_post(client_a, firm_a):
    asset = IPAssetFactory(firm=firm_a)
    assert client_a.get(delete_url(asset)).status_code == 405
    assert IPAsset.objects.filter(pk=asset.pk).exists()


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_login(client, firm_a):
    asset = IPAssetFactory(firm=firm_a)
    for url in [LIST_URL, create_url("patent"), detail_url(asset), edit_url(asset)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/accounts/login/"), url
    response = client.get(LIST_URL)
    assert response.url == "/accounts/login/?next=/app/assets/"
    assert client.post(delete_url(asset)).status_code == 302
    assert IPAsset.objects.filter(pk=asset.pk).exists()


@pytest.mark.django_db
def test_user_without_a_firm_is_asked_to_register_one(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    response = client.get(LIST_URL)
    assert response.status_code == 302
    assert response.url == "/app/firms/new/"


# --- The list ---------------------------------------------------------------------------------


def _list_queries(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST_URL)
    assert response.status_code == 200
    return len(queries), response


@pytest.mark.django_db
def test_list_costs_a_bounded_number_of_queries(client_a, firm_a, django_assert_max_num_queries):
    IPAssetFactory.create_batch(5, firm=firm_a)
    client_a.get(LIST_URL)  # warm up session and caches
    with django_assert_max_num_queries(LIST_QUERY_BOUND):
        response = client_a.get(LIST_URL)
    assert len(response.context["page"].object_list) == 5
    few, _ = _list_queries(client_a)

    IPAssetFactory.create_batch(35, firm=firm_a, kind=AssetKind.TRADEMARK, patent_type="")
    with django_assert_max_num_queries(LIST_QUERY_BOUND):
        response = client_a.get(LIST_URL)
    assert len(response.context["page"].object_list) == 25  # paginated
    many, _ = _list_queries(client_a)
    assert many == few, (few, many)


@pytest.mark.django_db
def test_list_shows_only_the_active_firms_assets(client_a, firm_a, firm_b):
    IPAssetFactory(firm=firm_a, title="甲的专利")
    IPAssetFactory(firm=firm_b, title="乙的专利")
    listing = page(client_a.get(LIST_URL))
    assert "甲的专利" in listing
    assert "乙的专利" not in listing


@pytest.mark.django_db
def test_list_filters_by_kind_and_query(client_a, firm_a):
    IPAssetFactory(firm=firm_a, title="一种电池隔膜", number=make_patent_number(4711))
    IPAssetFactory(firm=firm_a, title="一种电池外壳", number=make_patent_number(1234))
    IPAssetFactory(
        firm=firm_a,
        kind=AssetKind.TRADEMARK,
        number="7654321",
        patent_type="",
        filing_date=None,
        title="电池王",
    )

    def titles(params):
        response = client_a.get(LIST_URL, params)
        assert response.status_code == 200
        return sorted(asset.title for asset in response.context["page"].object_list)

    assert titles({}) == ["一种电池外壳", "一种电池隔膜", "电池王"]
    assert titles({"kind": "trademark"}) == ["电池王"]
    assert titles({"kind": "patent"}) == ["一种电池外壳", "一种电池隔膜"]
    assert titles({"q": "隔膜"}) == ["一种电池隔膜"]
    assert titles({"q": "电池", "kind": "patent"}) == ["一种电池外壳", "一种电池隔膜"]
    assert titles({"q": "4711"}) == ["一种电池隔膜"]  # part of the number
    assert titles({"q": "zl2019"}) == ["一种电池外壳", "一种电池隔膜"]  # case-insensitive
    assert titles({"q": "7654"}) == ["电池王"]
    assert titles({"q": "没有"}) == []
    assert titles({"kind": "bogus"}) == ["一种电池外壳", "一种电池隔膜", "电池王"]


@pytest.mark.django_db
def test_htmx_request_gets_only_the_table(client_a, firm_a):
    IPAssetFactory(firm=firm_a, title="一种电池隔膜")
    full = client_a.get(LIST_URL)
    assert "<html" in page(full)
    assert "portal/assets/list.html" in [t.name for t in full.templates]

    partial = client_a.get(LIST_URL, {"q": "隔膜"}, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    body = page(partial)
    assert "<html" not in body
    assert '<nav class="navbar' not in body
    assert "<table" in body
    assert "一种电池隔膜" in body
    names = [t.name for t in partial.templates]
    assert "portal/assets/_table.html" in names
    assert "portal/assets/list.html" not in names
    assert "base.html" not in names


@pytest.mark.django_db
def test_pagination_keeps_the_filter(client_a, firm_a):
    IPAssetFactory.create_batch(30, firm=firm_a)
    response = client_a.get(LIST_URL, {"kind": "patent"})
    assert re.search(r'href="\?page=2&(amp;)?kind=patent"', page(response))
    second = client_a.get(LIST_URL, {"kind": "patent", "page": 2})
    assert len(second.context["page"].object_list) == 5


# --- History ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_history_records_the_acting_user(client_a, firm_a, applicant_a):
    client_a.post(create_url(AssetKind.PATENT), FORM_DATA[AssetKind.PATENT])
    asset = IPAsset.objects.get(firm=firm_a)
    created = asset.history.get()
    assert created.history_type == "+"
    assert created.history_user == applicant_a

    client_a.post(edit_url(asset), {**FORM_DATA[AssetKind.PATENT], "title": "新标题"})
    changed = asset.history.latest("history_date")
    assert changed.history_type == "~"
    assert changed.title == "新标题"
    assert changed.history_user == applicant_a

    client_a.post(delete_url(asset))
    deleted = IPAsset.history.filter(id=asset.pk).latest("history_date")
    assert deleted.history_type == "-"
    assert deleted.history_user == applicant_a


@pytest.mark.django_db
def test_member_of_two_firms_creates_in_the_active_firm(client, firm_a, firm_b, applicant_a):
    MembershipFactory(user=applicant_a, firm=firm_b)
    client.force_login(applicant_a)
    assert client.post("/app/firms/switch/", {"firm": firm_b.pk}).status_code == 302
    response = client.post(create_url(AssetKind.PATENT), FORM_DATA[AssetKind.PATENT])
    assert response.status_code == 302
    assert IPAsset.objects.get().firm == firm_b
