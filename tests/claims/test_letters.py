"""Claim letters: the rejection notice and the settlement letter, read back from the PDF with a
text extractor (so the Chinese must survive font subsetting), plus the checks on their context.

Each render costs about 0.3 s: each letter is rendered once per module; everything else works on
the context or the HTML."""

import re
from datetime import date, datetime
from decimal import Decimal as D
from io import BytesIO

import pypdf
import pytest
from django.template.loader import render_to_string
from django.utils import translation

from claims import letters
from claims.indemnity import EventInput, ItemInput, assess
from claims.letters import LetterError

SCRIPT = "<script>alert(1)</script>"
REASONS = (
    "保险期间开始前，贵公司已收到侵权警告函。\r\n"
    "The infringement was known to you before the policy began.\n"
    f"{SCRIPT} & <b>not bold</b>"
)


def common() -> dict:
    return {
        "claim_number": "CLM-2026-000123",
        "policy_number": "POL-2026-000045",
        "firm_name": {"zh": "无锡甲科技有限公司", "en": "Wuxi Jia Technology Co., Ltd."},
        "firm_address": "江苏省无锡市新吴区长江路 7 号",
        "insurer": {"zh": "示例财产保险股份有限公司", "en": "Example P&C Insurance Co., Ltd."},
        "product": {"zh": "专利执行保险", "en": "Patent enforcement insurance"},
        "incident_date": date(2026, 9, 3),
        "notified_on": date(2026, 9, 10),
        "letter_date": date(2026, 11, 25),
        "handler_name": "王敏",
        "reference": "LTR-2026-0042",
    }


def rejection() -> dict:
    return {
        **common(),
        "reasons": REASONS,
        "clause_refs": [
            {"number": 5, "title": {"zh": "投保前已知的侵权", "en": "Infringement known before"}},
            {"number": 7, "title": {"zh": "美国境内诉讼", "en": "Litigation in the US"}},
        ],
        "decided_on": date(2026, 11, 23),
    }


def event(**kwargs) -> EventInput:
    """One patent: loss 80,000 of an insured value of 200,000, this policy 50,000 and another of
    150,000 (a 25% share), 10% deductible, 3,000 recovered: 80,000 − 8,000 = 72,000; × 25% =
    18,000; − 3,000 = 15,000 payable, 35,000 of the 50,000 left afterwards."""
    item = ItemInput(loss=D("80000"), insured_value=D("200000"), sum_insured=D("50000"))
    values = {
        "items": [item],
        "deductible_rate": D("10"),
        "recovered": D("3000"),
        "other_sums_insured": [D("150000")],
        "remaining_sum_insured": D("50000"),
        **kwargs,
    }
    return EventInput(**values)


def settlement(assessment=None, *, advance=D("5000.00")) -> dict:
    result = assessment or assess(event())
    return {
        **common(),
        "amount_claimed": D("120000.00"),
        "assessment": result.to_dict(),
        "payable": result.payable,
        "advance_paid": advance,
        "balance_due": result.payable - advance,
        "payment_due": date(2026, 12, 5),
        "remaining_sum_insured_after": result.remaining_sum_insured_after,
    }


def flat(text: str) -> str:
    """Without whitespace: extractors split lines and may put spaces between runs."""
    return re.sub(r"\s+", "", text)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(BytesIO(pdf)).pages)


@pytest.fixture(scope="module")
def rejection_pdf() -> bytes:
    return letters.rejection_letter_pdf(rejection())


@pytest.fixture(scope="module")
def settlement_pdf() -> bytes:
    return letters.settlement_letter_pdf(settlement())


# --- The PDFs ------------------------------------------------------------------------------------


def test_rejection_letter_reads_back_from_the_pdf(rejection_pdf):
    assert rejection_pdf.startswith(b"%PDF")
    text = flat(pdf_text(rejection_pdf))
    for expected in [
        "拒赔通知书",
        "CLM-2026-000123",
        "POL-2026-000045",
        "无锡甲科技有限公司",
        "LTR-2026-0042",
        "2026年11月25日",
        "25 Nov 2026",
        "2026年11月23日",  # decided on
        "保险期间开始前，贵公司已收到侵权警告函。",
        "The infringement was known to you before the policy began.",
        "条款第5条：投保前已知的侵权",
        "Litigation in the US",
        "国家金融监督管理总局",
        "第二十六条",
        "王敏",
    ]:
        assert flat(expected) in text, expected
    # The handler's markup is text on the page: neither dropped nor interpreted.
    assert "alert(1)" in text
    assert flat(f"{SCRIPT} & <b>not bold</b>") in text


def test_settlement_letter_reads_back_from_the_pdf(settlement_pdf):
    assert settlement_pdf.startswith(b"%PDF")
    text = flat(pdf_text(settlement_pdf))
    for expected in [
        "赔款理算通知书",
        "CLM-2026-000123",
        "¥120,000.00",  # claimed
        "¥80,000.00",  # assessed
        "−¥8,000.00",  # 10% deductible
        "= 25%",  # the double-insurance share
        "−¥54,000.00",
        "−¥3,000.00",  # recovered
        "应付赔款",
        "¥15,000.00",  # payable
        "¥5,000.00",  # advance
        "¥10,000.00",  # balance
        "2026年12月5日",
        "5 Dec 2026",
        "¥35,000.00",  # remaining sum insured after
        "代位求偿",
        "Subrogation",
    ]:
        assert flat(expected) in text, expected
    assert flat("应付赔款 Payable ¥15,000.00") in text


# --- The HTML and the context --------------------------------------------------------------------


def test_reasons_are_escaped_and_keep_their_line_breaks():
    html = render_to_string(
        letters.REJECTION_TEMPLATE, letters.rejection_letter_context(rejection())
    )
    assert SCRIPT not in html and "<b>not bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;not bold&lt;/b&gt;" in html
    assert "警告函。<br>The infringement" in html
    assert "began.<br>&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (D("25000"), "¥25,000.00"),
        (D("1234567.891"), "¥1,234,567.89"),
        (D("0.005"), "¥0.01"),  # half up
        (D("-8000"), "−¥8,000.00"),
        (0, "¥0.00"),
    ],
)
def test_money_format(value, expected):
    assert letters.format_money(value) == expected


def test_dates_do_not_follow_the_active_language():
    for language in ("zh-hans", "en"):
        with translation.override(language):
            assert letters.format_date(date(2026, 11, 25)) == {
                "zh": "2026年11月25日",
                "en": "25 Nov 2026",
            }
            assert letters.format_date(date(2027, 1, 5))["en"] == "5 Jan 2027"


def test_settlement_without_advance_or_other_insurance():
    result = assess(event(other_sums_insured=[], recovered=D("0"), deductible_rate=D("0")))
    assert result.payable == D("20000.00")  # 80,000 lost, 50,000 of 200,000 insured: 25% paid
    context = letters.settlement_letter_context(settlement(result, advance=D("0")))
    assert context["has_advance"] is False and context["has_balance"] is True
    assert context["balance_due"] == "¥20,000.00"
    steps = {step["label"]["en"]: step for step in context["steps"]}
    assert steps["Deductible"]["adjustment"] == "—"
    assert steps["Deductible"]["basis"]["en"] == "No deductible"
    assert steps["Double-insurance share"]["basis"]["en"] == "No other insurance: 100%"
    assert steps["Recoveries deducted"]["adjustment"] == "—"


def test_settlement_shows_the_remaining_sum_insured_cap():
    result = assess(event(remaining_sum_insured=D("12000")))
    assert result.payable == D("12000.00")
    context = letters.settlement_letter_context(settlement(result, advance=D("12000.00")))
    cap = context["steps"][-1]
    assert cap["label"]["en"] == "Remaining-sum-insured cap"
    assert cap["adjustment"] == "−¥3,000.00" and cap["running"] == "¥12,000.00"
    assert "limited" in cap["basis"]["en"]
    assert context["has_balance"] is False and context["remaining_sum_insured_after"] == "¥0.00"


def test_fixed_deductible_is_described():
    result = assess(event(deductible_rate=D("0"), deductible_amount=D("2000")))
    context = letters.settlement_letter_context(settlement(result))
    deductible = context["steps"][1]
    assert deductible["basis"]["zh"] == "每次事故免赔额 ¥2,000.00"
    assert deductible["adjustment"] == "−¥2,000.00"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"payable": D("15000.01")}, "payable"),
        ({"balance_due": D("15000.00")}, "balance_due"),
        ({"advance_paid": D("20000.00"), "balance_due": D("0")}, "advance_paid"),
        ({"remaining_sum_insured_after": D("50000.00")}, "remaining_sum_insured_after"),
        ({"payable": 15000.0}, "Decimal"),
        ({"payment_due": datetime(2026, 12, 5, 9, 0)}, "payment_due"),
        ({"assessment": {"assessed": "80000"}}, "assessment has no"),
    ],
)
def test_inconsistent_settlement_is_refused(change, message):
    with pytest.raises(LetterError, match=message):
        letters.settlement_letter_context({**settlement(), **change})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reasons": "  \n "}, "reasons may not be blank"),
        ({"clause_refs": [{"number": "5", "title": {"zh": "x"}}]}, "number"),
        ({"insurer": {"zh": "", "en": ""}}, "insurer"),
        ({"letter_date": "2026-11-25"}, "letter_date"),
    ],
)
def test_incomplete_rejection_is_refused(change, message):
    with pytest.raises(LetterError, match=message):
        letters.rejection_letter_context({**rejection(), **change})


def test_missing_key_is_named():
    context = rejection()
    del context["decided_on"]
    with pytest.raises(LetterError, match="decided_on"):
        letters.rejection_letter_pdf(context)
