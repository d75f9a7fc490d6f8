"""Malformed Unified Social Credit Codes and patent numbers, through the pages people use.

Each bad value must come back as a clear error on its own field, in Chinese by default, and
nothing may be stored. Values that are only typed differently (lower case, spaces, hyphens,
full-width digits of a patent number) are folded to the canonical form and accepted.
"""

import re
from html import unescape

import pytest
from stdnum.cn import uscc

from portal.models import Firm, IPAsset
from tests.factories import make_patent_number, make_uscc

GOOD_USCC = make_uscc(4242)
USCC_INVALID = "不是有效的统一社会信用代码"
USCC_TOO_LONG = "30"  # Django's max_length message names the limit


def _replace(code, position, char):
    return code[:position] + char + code[position + 1 :]


def _wrong_check(code):
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def _full_width(text):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


USCC_CASES = [
    ("wrong check character", _wrong_check(GOOD_USCC), USCC_INVALID),
    ("17 characters", GOOD_USCC[:-1], USCC_INVALID),
    ("19 characters", GOOD_USCC + "1", USCC_INVALID),
    ("empty after spaces", "   ", "必填"),
    ("letter I", _replace(GOOD_USCC, 10, "I"), USCC_INVALID),
    ("letter O", _replace(GOOD_USCC, 10, "O"), USCC_INVALID),
    ("letter S", _replace(GOOD_USCC, 10, "S"), USCC_INVALID),
    ("letter V", _replace(GOOD_USCC, 10, "V"), USCC_INVALID),
    ("letter Z", _replace(GOOD_USCC, 10, "Z"), USCC_INVALID),
    ("full-width characters", _full_width(GOOD_USCC), USCC_INVALID),
    ("ideographic comma inside", GOOD_USCC[:9] + "、" + GOOD_USCC[9:], USCC_INVALID),
    ("CJK characters", "统一社会信用代码无效的值啊啊啊啊啊啊", USCC_INVALID),
    ("all zeros but one", "0" * 17 + "1", USCC_INVALID),
    ("too long to be a code", GOOD_USCC + "-" + GOOD_USCC, USCC_TOO_LONG),
    ("script tag", "<script>alert(1)</script>", USCC_INVALID),
]


def _firm_data(**overrides):
    data = {
        "name_zh": "恶意输入测试有限公司",
        "name_en": "Hostile Input Ltd",
        "uscc": GOOD_USCC,
        "address": "无锡市新吴区",
        "region_code": "320214",
        "industry": "electronic_information",
        "size": "small",
    }
    data.update(overrides)
    return data


def _field_errors(html):
    """The text of the error messages shown next to fields (Bootstrap's invalid-feedback)."""
    blocks = re.findall(r'class="[^"]*invalid-feedback[^"]*"[^>]*>(.*?)</', html, re.S)
    return unescape(" ".join(blocks))


@pytest.fixture
def newcomer(client, db):
    from tests.factories import UserFactory

    user = UserFactory(email="newcomer@example.test")
    client.force_login(user)
    return client


@pytest.mark.parametrize(("case", "value", "message"), USCC_CASES, ids=[c[0] for c in USCC_CASES])
def test_a_malformed_uscc_is_a_field_error_in_chinese(newcomer, case, value, message):
    assert not uscc.is_valid(value.replace(" ", "").replace("-", "").upper())
    response = newcomer.post("/app/firms/new/", _firm_data(uscc=value))
    assert response.status_code == 200
    html = response.content.decode()
    errors = _field_errors(html)
    assert message in errors, errors
    assert "is-invalid" in html and 'name="uscc"' in html
    assert not Firm.objects.exists()


@pytest.mark.parametrize(
    "typed",
    [
        GOOD_USCC.lower(),
        " ".join(GOOD_USCC[i : i + 6] for i in range(0, 18, 6)),
        GOOD_USCC[:8] + "-" + GOOD_USCC[8:],
    ],
    ids=["lower case", "spaces", "hyphen"],
)
def test_the_same_code_typed_differently_is_stored_in_canonical_form(newcomer, typed):
    response = newcomer.post("/app/firms/new/", _firm_data(uscc=typed))
    assert response.status_code == 302, _field_errors(response.content.decode())
    assert Firm.objects.get().uscc == GOOD_USCC


def test_a_malformed_uscc_is_refused_when_editing_the_firm_too(client_a, firm_a):
    before = firm_a.uscc
    response = client_a.post("/app/firm/edit/", _firm_data(uscc=_wrong_check(before)))
    assert response.status_code == 200
    assert USCC_INVALID in _field_errors(response.content.decode())
    firm_a.refresh_from_db()
    assert firm_a.uscc == before


def test_the_uscc_error_is_in_english_when_english_is_chosen(newcomer):
    newcomer.cookies["portal_language"] = "en"
    response = newcomer.post("/app/firms/new/", _firm_data(uscc=_wrong_check(GOOD_USCC)))
    assert "is not a valid Unified Social Credit Code" in _field_errors(response.content.decode())


# --- Patent numbers ---------------------------------------------------------------------------

GOOD_PATENT = make_patent_number(777, "1", 2019)  # ZL2019100007777.c
DIGITS = GOOD_PATENT[2:14]
CHECK_MESSAGE = "该专利号的校验位与数字不符"
FORMAT_MESSAGE = "中国专利号由12位数字"
TYPE_MESSAGE = "该专利号的类型位不是"


def _other_check(check):
    return "0" if check != "0" else "1"


PATENT_CASES = [
    ("wrong check digit", f"ZL{DIGITS}.{_other_check(GOOD_PATENT[-1])}", CHECK_MESSAGE),
    ("wrong check digit, no prefix", f"{DIGITS}.{_other_check(GOOD_PATENT[-1])}", CHECK_MESSAGE),
    ("type digit 4", f"ZL{DIGITS[:4]}4{DIGITS[5:]}.0", TYPE_MESSAGE),
    ("11 digits", f"ZL{DIGITS[:-1]}.{GOOD_PATENT[-1]}", FORMAT_MESSAGE),
    ("13 digits", f"ZL{DIGITS}0.{GOOD_PATENT[-1]}", FORMAT_MESSAGE),
    ("publication kind code A", f"CN{DIGITS[:9]}A", FORMAT_MESSAGE),
    ("publication kind code B", f"CN{DIGITS}B", FORMAT_MESSAGE),
    ("US prefix", f"US{DIGITS}.{GOOD_PATENT[-1]}", FORMAT_MESSAGE),
    ("letters in the digits", f"ZL2019I0007777.{GOOD_PATENT[-1]}", FORMAT_MESSAGE),
    (
        "Arabic-Indic digits",
        "ZL" + "".join(chr(0x660 + int(d)) for d in DIGITS) + "." + GOOD_PATENT[-1],
        FORMAT_MESSAGE,
    ),
    ("check letter other than X", f"ZL{DIGITS}.Y", FORMAT_MESSAGE),
    ("two dots", f"ZL{DIGITS}..{GOOD_PATENT[-1]}", FORMAT_MESSAGE),
    ("CJK text", "一种专利号码", FORMAT_MESSAGE),
    ("script tag", "<script>alert(1)</script>", FORMAT_MESSAGE),
]


def _patent_data(number):
    return {
        "number": number,
        "title": "一种测试阀门",
        "filing_date": "2019-03-12",
        "legal_status": "granted",
        "licences_granted": "0",
    }


@pytest.mark.parametrize(
    ("case", "number", "message"), PATENT_CASES, ids=[c[0] for c in PATENT_CASES]
)
def test_a_malformed_patent_number_is_a_field_error_in_chinese(client_a, case, number, message):
    response = client_a.post("/app/assets/new/patent/", _patent_data(number))
    assert response.status_code == 200
    errors = _field_errors(response.content.decode())
    assert message in errors, errors
    assert not IPAsset.objects.exists()


@pytest.mark.parametrize(
    "typed",
    [
        GOOD_PATENT.lower(),
        _full_width(GOOD_PATENT),
        f"CN {DIGITS[:4]} {DIGITS[4:]} .{GOOD_PATENT[-1]}",
        f"{DIGITS}{GOOD_PATENT[-1]}",
    ],
    ids=["lower case", "full-width", "spaces", "no dot"],
)
def test_a_patent_number_typed_differently_is_stored_canonically(client_a, typed):
    response = client_a.post("/app/assets/new/patent/", _patent_data(typed))
    assert response.status_code == 302, _field_errors(response.content.decode())
    assert IPAsset.objects.get().number == GOOD_PATENT


# --- Nice classes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "classes", ["²", "9, ²", "٣", "0", "46", "-1", "9.5", "1e1", "99999999999999999999999"]
)
def test_a_bad_nice_class_is_a_field_error_not_a_server_error(client_a, classes):
    # "²".isdigit() is true but int("²") raises: this was a 500 before the form read only 0-9.
    data = {"number": "12345", "title": "商标", "nice_classes": classes, "legal_status": "granted"}
    response = client_a.post("/app/assets/new/trademark/", {**data, "licences_granted": "0"})
    assert response.status_code == 200
    assert "nice_classes" in _field_error_names(response.content.decode())
    assert not IPAsset.objects.exists()


def test_full_width_nice_classes_are_folded(client_a):
    data = {
        "number": "12345",
        "title": "商标",
        "nice_classes": "９，４２",
        "legal_status": "granted",
    }
    response = client_a.post("/app/assets/new/trademark/", {**data, "licences_granted": "0"})
    assert response.status_code == 302, _field_errors(response.content.decode())
    assert IPAsset.objects.get().nice_classes == [9, 42]


def _field_error_names(html):
    return set(re.findall(r'id="error_\d+_id_(\w+)"', html))
