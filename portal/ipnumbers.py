"""Pure rules for the numbers and dates of IP rights. No Django imports: table-tested.

Chinese patent application numbers: since 2003 twelve digits (year, type digit, seven-digit
serial), before that eight (two-digit year, type digit, five-digit serial); both carry a check
character after a dot. The check character is the digit sum weighted 2, 3, ..., 9, 2, 3, ...
from the left, modulo 11, with 10 written as ``X``. Numbers are often written with a ``ZL`` or
``CN`` prefix and with spaces.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

PATENT_TYPE_BY_DIGIT = {
    "1": "invention",
    "8": "invention",  # PCT application entering the Chinese national phase
    "2": "utility_model",
    "9": "utility_model",  # PCT utility model
    "3": "design",
}

# re.ASCII: ``\d`` means 0-9 only. Other scripts' digits must not slip into stored numbers (they
# would also dodge the one-number-per-firm constraint); full-width input is folded by ``_squash``.
_PATENT_RE = re.compile(r"^(?:ZL|CN)?(\d{8}|\d{12})\.?([0-9X])$", re.ASCII)
_TRADEMARK_RE = re.compile(r"^\d{1,9}$", re.ASCII)
_SOFTWARE_COPYRIGHT_RE = re.compile(r"^(19|20)\d{2}SR\d{6,7}$", re.ASCII)
_WORK_COPYRIGHT_RE = re.compile(
    r"^(国作登字|[\u4e00-\u9fff]{1,3}作登字)-?(19|20)\d{2}-?[A-Z]-?\d{6,8}$", re.ASCII
)
_PLANT_VARIETY_RE = re.compile(r"^CNA\d{6,12}\.?\d?$", re.ASCII)
_IC_LAYOUT_RE = re.compile(r"^(BS\.?)?\d{8,9}\.?[0-9X]$", re.ASCII)


class InvalidNumber(ValueError):
    """The number does not have the public format; ``code`` says why for a translated message."""

    def __init__(self, code: str, expected: str = ""):
        super().__init__(code)
        self.code = code
        self.expected = expected


@dataclass(frozen=True)
class PatentNumber:
    digits: str
    check: str

    @property
    def type_digit(self) -> str:
        return self.digits[4] if len(self.digits) == 12 else self.digits[2]

    @property
    def patent_type(self) -> str | None:
        return PATENT_TYPE_BY_DIGIT.get(self.type_digit)

    @property
    def filing_year(self) -> int:
        if len(self.digits) == 12:
            return int(self.digits[:4])
        two = int(self.digits[:2])
        return 1900 + two if two >= 85 else 2000 + two

    def __str__(self) -> str:
        return f"ZL{self.digits}.{self.check}"


def _squash(raw: str) -> str:
    """Fold full-width input from Chinese input methods (ＺＬ２０１５…．３, ideographic spaces)
    to ASCII, drop white space and upper-case."""
    text = unicodedata.normalize("NFKC", raw or "")
    return re.sub(r"\s", "", text).upper()


def patent_check_character(digits: str) -> str:
    total = sum(int(d) * (2 + i % 8) for i, d in enumerate(digits))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def parse_cn_patent_number(raw: str) -> PatentNumber:
    text = _squash(raw)
    match = _PATENT_RE.match(text)
    if not match:
        raise InvalidNumber("patent_format")
    digits, check = match.groups()
    number = PatentNumber(digits, check)
    if number.patent_type is None:
        raise InvalidNumber("patent_type_digit")
    expected = patent_check_character(digits)
    if check != expected:
        raise InvalidNumber("patent_check", expected)
    return number


def normalise_trademark_number(raw: str) -> str:
    text = _squash(raw)
    if not _TRADEMARK_RE.match(text):
        raise InvalidNumber("trademark_format")
    return text


def normalise_copyright_number(raw: str) -> str:
    text = _squash(raw)
    if _SOFTWARE_COPYRIGHT_RE.match(text) or _WORK_COPYRIGHT_RE.match(text):
        return text
    raise InvalidNumber("copyright_format")


def normalise_plant_variety_number(raw: str) -> str:
    text = _squash(raw)
    if not _PLANT_VARIETY_RE.match(text):
        raise InvalidNumber("plant_variety_format")
    return text


def normalise_ic_layout_number(raw: str) -> str:
    text = _squash(raw)
    if not _IC_LAYOUT_RE.match(text):
        raise InvalidNumber("ic_layout_format")
    return text


def add_years(start: date, years: int) -> date:
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February in a year that has none
        return start.replace(year=start.year + years, month=3, day=1)


# The design term became 15 years for applications filed from this date (Patent Law 2020 amendment).
DESIGN_15_YEAR_TERM_FROM = date(2021, 6, 1)


def patent_term_years(patent_type: str, filing_date: date) -> int:
    if patent_type == "invention":
        return 20
    if patent_type == "utility_model":
        return 10
    if patent_type == "design":
        return 15 if filing_date >= DESIGN_15_YEAR_TERM_FROM else 10
    raise ValueError(f"unknown patent type {patent_type!r}")


def patent_expiry(patent_type: str, filing_date: date) -> date:
    """Last day of protection: the term runs from the filing date and ends the day before the
    anniversary (a patent filed on 10 March 2015 for 20 years is protected through 9 March 2035)."""
    return add_years(filing_date, patent_term_years(patent_type, filing_date)) - timedelta(days=1)


def trademark_expiry(registration_date: date) -> date:
    """A registration lasts ten years from the registration date, through the day before."""
    return add_years(registration_date, 10) - timedelta(days=1)


_REGION_PREFIXES = {
    *(str(n) for n in range(11, 16)),
    *(str(n) for n in range(21, 24)),
    *(str(n) for n in range(31, 38)),
    *(str(n) for n in range(41, 47)),
    *(str(n) for n in range(50, 55)),
    *(str(n) for n in range(61, 66)),
    "71",
    "81",
    "82",
}


def is_region_code(code: str) -> bool:
    """A six-digit administrative division code whose first two digits name a province."""
    return bool(re.fullmatch(r"\d{6}", code or "")) and code[:2] in _REGION_PREFIXES
