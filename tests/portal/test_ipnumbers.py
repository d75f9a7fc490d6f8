"""Table-driven tests and properties for the pure IP-number rules in ``portal.ipnumbers``."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal import ipnumbers
from portal.ipnumbers import (
    InvalidNumber,
    is_region_code,
    parse_cn_patent_number,
    patent_check_character,
    patent_expiry,
    trademark_expiry,
)

WEIGHTS = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]


# --- Check character, worked by hand ----------------------------------------------------------


def test_check_character_worked_example_twelve_digits():
    # 2 0 1 5 1 0 0 1 2 3 4 5
    # x2 x3 x4 x5 x6 x7 x8 x9 x2 x3 x4 x5
    total = 4 + 0 + 4 + 25 + 6 + 0 + 0 + 9 + 4 + 9 + 16 + 25
    assert total == 102
    assert total % 11 == 3
    assert patent_check_character("201510012345") == "3"


def test_check_character_worked_example_twelve_digits_gives_x():
    # 2 0 1 9 1 0 1 2 3 4 5 6
    total = (
        2 * 2
        + 0 * 3
        + 1 * 4
        + 9 * 5
        + 1 * 6
        + 0 * 7
        + 1 * 8
        + 2 * 9
        + 3 * 2
        + 4 * 3
        + 5 * 4
        + 6 * 5
    )
    assert total == 153
    assert total % 11 == 10  # written as X
    assert patent_check_character("201910123456") == "X"


def test_check_character_worked_example_eight_digits_gives_x():
    # 9 3 1 0 5 4 3 2 weighted 2..9
    total = 9 * 2 + 3 * 3 + 1 * 4 + 0 * 5 + 5 * 6 + 4 * 7 + 3 * 8 + 2 * 9
    assert total == 131
    assert total % 11 == 10
    assert patent_check_character("93105432") == "X"


@pytest.mark.parametrize(
    "digits, expected",
    [
        ("202110123456", "7"),  # 4+0+8+5+6+0+8+18+6+12+20+30 = 117, 117 mod 11 = 7
        ("201510012345", "3"),
        ("201910123456", "X"),
        ("201920000000", "X"),  # 4+0+4+45+12 = 65, 65 mod 11 = 10
        ("93105432", "X"),
        ("00000000", "0"),
        ("000000000000", "0"),
        ("000000000001", "5"),  # only the last weight (5) counts
        ("100000000000", "2"),  # only the first weight (2) counts
        ("000000001000", "2"),  # the ninth position wraps back to weight 2
    ],
)
def test_check_character_table(digits, expected):
    assert patent_check_character(digits) == expected


# --- Parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, digits, check, patent_type",
    [
        ("ZL201510012345.3", "201510012345", "3", "invention"),
        ("CN201510012345.3", "201510012345", "3", "invention"),
        ("201510012345.3", "201510012345", "3", "invention"),
        ("2015100123453", "201510012345", "3", "invention"),  # dot omitted
        ("zl201510012345.3", "201510012345", "3", "invention"),  # lower-case prefix
        ("ZL 2015 1001 2345.3", "201510012345", "3", "invention"),  # spaces
        ("ZL\u30002015100123453", "201510012345", "3", "invention"),  # ideographic space
        ("ZL201510012345．3", "201510012345", "3", "invention"),  # full-width dot
        ("ＺＬ２０１５１００１２３４５．３", "201510012345", "3", "invention"),  # full-width IME
        (" ZL201910123456.x ", "201910123456", "X", "invention"),  # lower-case x
        ("ZL202110123456.7", "202110123456", "7", "invention"),
        ("ZL93105432.X", "93105432", "X", "invention"),  # pre-2003, eight digits
    ],
)
def test_parse_accepts_the_usual_ways_of_writing(raw, digits, check, patent_type):
    number = parse_cn_patent_number(raw)
    assert number.digits == digits
    assert number.check == check
    assert number.patent_type == patent_type
    assert str(number) == f"ZL{digits}.{check}"


@pytest.mark.parametrize(
    "type_digit, patent_type",
    [
        ("1", "invention"),
        ("8", "invention"),
        ("2", "utility_model"),
        ("9", "utility_model"),
        ("3", "design"),
    ],
)
def test_type_digit_gives_patent_type(type_digit, patent_type):
    digits = f"2019{type_digit}0012345"
    number = parse_cn_patent_number(f"ZL{digits}.{patent_check_character(digits)}")
    assert number.patent_type == patent_type
    assert number.type_digit == type_digit
    assert number.filing_year == 2019


@pytest.mark.parametrize(
    "digits, year",
    [("93105432", 1993), ("85100001", 1985), ("02100001", 2002), ("201910123456", 2019)],
)
def test_filing_year(digits, year):
    number = parse_cn_patent_number(f"{digits}.{patent_check_character(digits)}")
    assert number.filing_year == year


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("ZL201510012345.6", "3"),  # the old help-text example: wrong check character
        ("ZL201910123456.0", "X"),
        ("ZL202110123456.X", "7"),
        ("93105432.1", "X"),
    ],
)
def test_wrong_check_character_is_rejected_with_the_expected_one(raw, expected):
    with pytest.raises(InvalidNumber) as info:
        parse_cn_patent_number(raw)
    assert info.value.code == "patent_check"
    assert info.value.expected == expected


@pytest.mark.parametrize("type_digit", ["0", "4", "5", "6", "7"])
def test_bad_type_digit_is_rejected(type_digit):
    digits = f"2019{type_digit}0012345"
    with pytest.raises(InvalidNumber) as info:
        parse_cn_patent_number(f"ZL{digits}.{patent_check_character(digits)}")
    assert info.value.code == "patent_type_digit"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ZL",
        "ZL20151001234.3",  # eleven digits
        "ZL2015100123456.3",  # thirteen digits
        "ZL201510012345.",  # no check character
        "ZL201510012345.A",
        "US201510012345.3",
        "ZL2015-10012345.3",
        "ZL201510012345..3",
        "ZL٢٠١٥١٠٠١٢٣٤٥.3",  # Arabic-Indic digits
    ],
)
def test_malformed_numbers_are_rejected(raw):
    with pytest.raises(InvalidNumber) as info:
        parse_cn_patent_number(raw)
    assert info.value.code == "patent_format"


def test_parse_accepts_none_as_empty():
    with pytest.raises(InvalidNumber):
        parse_cn_patent_number(None)


# --- Other numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected", [("12345678", "12345678"), (" 1 234 ", "1234"), ("123456789", "123456789")]
)
def test_trademark_numbers(raw, expected):
    assert ipnumbers.normalise_trademark_number(raw) == expected


@pytest.mark.parametrize("raw", ["", "1234567890", "12a4", "第1234号", "١٢٣"])
def test_bad_trademark_numbers(raw):
    with pytest.raises(InvalidNumber) as info:
        ipnumbers.normalise_trademark_number(raw)
    assert info.value.code == "trademark_format"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2023SR0123456", "2023SR0123456"),
        ("2023sr0123456", "2023SR0123456"),
        ("国作登字-2023-F-00012345", "国作登字-2023-F-00012345"),
        ("苏作登字-2021-A-00001234", "苏作登字-2021-A-00001234"),
    ],
)
def test_copyright_numbers(raw, expected):
    assert ipnumbers.normalise_copyright_number(raw) == expected


@pytest.mark.parametrize("raw", ["2023SR12", "SR0123456", "国作登字2023"])
def test_bad_copyright_numbers(raw):
    with pytest.raises(InvalidNumber) as info:
        ipnumbers.normalise_copyright_number(raw)
    assert info.value.code == "copyright_format"


# --- Terms and expiry -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "patent_type, filing, expiry",
    [
        # Invention: 20 years, through the day before the anniversary.
        ("invention", date(2015, 3, 10), date(2035, 3, 9)),
        ("invention", date(2000, 1, 1), date(2019, 12, 31)),
        # Utility model: 10 years.
        ("utility_model", date(2015, 3, 10), date(2025, 3, 9)),
        ("utility_model", date(2021, 6, 1), date(2031, 5, 31)),
        # Design: 10 years before 1 June 2021, 15 years from that date.
        ("design", date(2021, 5, 31), date(2031, 5, 30)),
        ("design", date(2021, 6, 1), date(2036, 5, 31)),
        ("design", date(2019, 8, 20), date(2029, 8, 19)),
        ("design", date(2022, 1, 1), date(2036, 12, 31)),
        # Filed on 29 February: the anniversary year has no 29 Feb, so the term runs to 28 Feb.
        ("utility_model", date(2016, 2, 29), date(2026, 2, 28)),
        ("design", date(2024, 2, 29), date(2039, 2, 28)),
        # ... unless the anniversary year is a leap year too (2040): then the day before is 28 Feb.
        ("invention", date(2020, 2, 29), date(2040, 2, 28)),
        # Filed on 1 March: ends on the last day of February, 29th in a leap year.
        ("invention", date(2004, 3, 1), date(2024, 2, 29)),
        ("utility_model", date(2013, 3, 1), date(2023, 2, 28)),
    ],
)
def test_patent_expiry(patent_type, filing, expiry):
    assert patent_expiry(patent_type, filing) == expiry


@pytest.mark.parametrize(
    "patent_type, filing, years",
    [
        ("invention", date(2010, 1, 1), 20),
        ("utility_model", date(2010, 1, 1), 10),
        ("design", date(2021, 5, 31), 10),
        ("design", date(2021, 6, 1), 15),
    ],
)
def test_patent_term_years(patent_type, filing, years):
    assert ipnumbers.patent_term_years(patent_type, filing) == years


def test_unknown_patent_type_raises():
    with pytest.raises(ValueError):
        patent_expiry("plant", date(2020, 1, 1))


@pytest.mark.parametrize(
    "registered, expiry",
    [
        (date(2015, 3, 14), date(2025, 3, 13)),
        (date(2020, 1, 1), date(2029, 12, 31)),
        (date(2016, 2, 29), date(2026, 2, 28)),
        (date(2014, 3, 1), date(2024, 2, 29)),
    ],
)
def test_trademark_expiry(registered, expiry):
    assert trademark_expiry(registered) == expiry


@pytest.mark.parametrize(
    "code, ok",
    [
        ("320200", True),  # Wuxi
        ("110108", True),  # Haidian, Beijing
        ("440300", True),  # Shenzhen
        ("650100", True),  # Urumqi
        ("810000", True),  # Hong Kong
        ("820000", True),  # Macao
        ("710000", True),  # Taiwan
        ("100000", False),  # no province 10
        ("160000", False),
        ("240000", False),
        ("380000", False),
        ("470000", False),
        ("550000", False),
        ("660000", False),
        ("900000", False),
        ("32020", False),
        ("3202000", False),
        ("32020A", False),
        ("", False),
        (None, False),
        ("３２０２００", False),  # full-width digits
    ],
)
def test_is_region_code(code, ok):
    assert is_region_code(code) is ok


# --- Properties -------------------------------------------------------------------------------

VALID_TYPE_DIGITS = sorted(ipnumbers.PATENT_TYPE_BY_DIGIT)
DIGIT = st.sampled_from("0123456789")


@st.composite
def twelve_digits(draw):
    year = draw(st.text(DIGIT, min_size=4, max_size=4))
    type_digit = draw(st.sampled_from(VALID_TYPE_DIGITS))
    serial = draw(st.text(DIGIT, min_size=7, max_size=7))
    return f"{year}{type_digit}{serial}"


@given(digits=twelve_digits(), prefix=st.sampled_from(["", "ZL", "CN", "zl ", "CN "]))
def test_a_number_with_its_computed_check_parses_back(digits, prefix):
    check = patent_check_character(digits)
    assert check in "0123456789X" and len(check) == 1
    number = parse_cn_patent_number(f"{prefix}{digits}.{check}")
    assert number.digits == digits
    assert number.check == check
    assert number.patent_type == ipnumbers.PATENT_TYPE_BY_DIGIT[digits[4]]
    # The stored form parses to itself.
    assert parse_cn_patent_number(str(number)) == number


@given(digits=twelve_digits(), position=st.integers(0, 11), delta=st.integers(1, 9))
def test_changing_any_single_digit_is_detected(digits, position, delta):
    check = patent_check_character(digits)
    changed = str((int(digits[position]) + delta) % 10)
    typo = digits[:position] + changed + digits[position + 1 :]
    with pytest.raises(InvalidNumber) as info:
        parse_cn_patent_number(f"ZL{typo}.{check}")
    assert info.value.code in {"patent_check", "patent_type_digit"}
    if info.value.code == "patent_check":
        assert info.value.expected == patent_check_character(typo)


@given(digits=twelve_digits(), wrong=st.sampled_from("0123456789X"))
def test_any_other_check_character_is_rejected(digits, wrong):
    right = patent_check_character(digits)
    if wrong == right:
        return
    with pytest.raises(InvalidNumber) as info:
        parse_cn_patent_number(f"{digits}.{wrong}")
    assert info.value.code == "patent_check"
    assert info.value.expected == right


@given(digits=st.text(DIGIT, min_size=12, max_size=12))
def test_check_character_matches_the_weighted_sum(digits):
    remainder = sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=True)) % 11
    assert patent_check_character(digits) == ("X" if remainder == 10 else str(remainder))


@given(
    patent_type=st.sampled_from(["invention", "utility_model", "design"]),
    filing=st.dates(min_value=date(1985, 4, 1), max_value=date(2200, 12, 31)),
)
def test_patent_expiry_is_after_filing_and_within_the_term(patent_type, filing):
    expiry = patent_expiry(patent_type, filing)
    years = ipnumbers.patent_term_years(patent_type, filing)
    assert expiry > filing
    assert years * 365 - 1 <= (expiry - filing).days <= years * 366
    # The day after the expiry is the anniversary (or 1 March for a 29 February filing).
    anniversary = expiry + timedelta(days=1)
    assert anniversary.year == filing.year + years
    if (filing.month, filing.day) == (2, 29) and anniversary.month == 3:
        assert anniversary.day == 1
    else:
        assert (anniversary.month, anniversary.day) == (filing.month, filing.day)


@given(registered=st.dates(min_value=date(1983, 3, 1), max_value=date(2200, 12, 31)))
def test_trademark_expiry_is_ten_years_less_a_day(registered):
    expiry = trademark_expiry(registered)
    assert expiry > registered
    assert 3651 <= (expiry - registered).days + 1 <= 3653
