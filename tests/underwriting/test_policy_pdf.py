"""The policy schedule PDF: what it shows (read back with a PDF text extractor, so the Chinese
must survive font subsetting and ToUnicode maps) and the idempotent document service."""

import hashlib
import re
from io import BytesIO

import pypdf
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.underwriting.application_helpers import acknowledge, filled_application
from underwriting import documents, services
from underwriting.choices import DocumentStatus, PaymentMethod, QuoteStatus
from underwriting.models import Policy, PolicyDocument, Product, Quote

SPECIAL = {
    "title": {"zh": "美国境内诉讼不保", "en": "No cover for litigation in the United States"},
    "text": {
        "zh": "在美利坚合众国境内提起或应诉的诉讼所产生的费用，保险人不负责赔偿。",
        "en": "Costs of proceedings brought or defended in the United States are not paid.",
    },
    "explanation": {
        "zh": "贵公司有对美销售，美国诉讼费用不在本保险范围内。",
        "en": "Your firm sells to the US; US litigation costs are outside this cover.",
    },
}


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue (see conftest)."""


def issued_policy(firm, user, *, riders=(), special=None, instalments=1, seconds_read=95):
    """A policy built through the services: application, quote, acknowledgement, the first
    payment through the sandbox provider (which issues it and queues its document)."""
    application = filled_application(firm, user, riders=riders)
    services.application_submit(application=application, actor=user, declaration=True)
    quote = application.quotes.get(status=QuoteStatus.OFFERED)
    if special:
        Quote.objects.filter(pk=quote.pk).update(special_exclusions=special)
        quote.refresh_from_db()
    policy = acknowledge(quote, user, seconds_read=seconds_read, instalments=instalments)
    services.payment_record(
        policy=policy,
        actor=None,
        amount=policy.instalments.order_by("sequence").first().amount,
        reference=f"SANDBOX-{policy.pk}",
        method=PaymentMethod.SANDBOX,
    )
    return Policy.objects.get(pk=policy.pk)


@pytest.fixture
def policy(catalogue, firm_a, applicant_a):
    """The PAT-ENF golden case: one patent, limits 50,000 and 150,000, ordinary answers."""
    firm_a.address = "江苏省无锡市新吴区长江路 7 号"
    firm_a.save()
    return issued_policy(firm_a, applicant_a)


def pdf_pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(BytesIO(pdf)).pages]


def flat(text: str) -> str:
    """Without whitespace: extractors split lines and may put spaces between runs."""
    return re.sub(r"\s+", "", text)


def test_schedule_text_extracts_from_the_pdf(policy, firm_a):
    pdf = documents.render_policy_pdf(policy)
    assert pdf.startswith(b"%PDF")
    pages = pdf_pages(pdf)
    assert len(pages) <= 4
    text = flat("\n".join(pages))

    clause_titles = [
        item["title"]["zh"]
        for item in policy.terms["exclusions"]
        if item["key"].startswith("clause-")
    ]
    assert clause_titles and all(re.search(r"[\u4e00-\u9fff]", t) for t in clause_titles)
    acknowledgement = policy.acknowledgement
    for expected in [
        policy.number,
        "保险单",
        "甲公司",
        firm_a.uscc,
        "江苏省无锡市新吴区长江路7号",
        clause_titles[0],
        "保险期间",
        "7,164.00",  # the premium of the golden case
        "200,000.00",  # sum insured
        "150,000.00",  # a limit
        f"{acknowledgement.dwell_seconds}秒",
        policy.verification_code,
        settings.PORTAL_BASE_URL + "/verify/",
        policy.terms["clause_version"]["sha256"],
        acknowledgement.text_sha256,
        acknowledgement.notice_version,
    ]:
        assert flat(expected) in text, expected
    # The first page carries the number in its running footer too.
    assert flat(f"保险单 Policy {policy.number}") in flat(pages[0])


def test_every_clause_exclusion_is_printed_in_full(policy):
    text = flat("\n".join(pdf_pages(documents.render_policy_pdf(policy))))
    for item in policy.terms["exclusions"]:
        for part in ("title", "text", "explanation"):
            if item[part]["zh"]:
                assert flat(item[part]["zh"]) in text, (item["key"], part)


def test_rider_and_special_exclusions_are_printed(catalogue, firm_a, applicant_a):
    policy = issued_policy(firm_a, applicant_a, riders=["R-ADVANCE"], special=[SPECIAL])
    keys = [item["key"] for item in policy.terms["exclusions"]]
    assert any(k.startswith("rider-R-ADVANCE-") for k in keys) and keys[-1] == "special-1"

    document = documents.render_policy_document(policy)
    pages = pdf_pages(document.write_pdf())
    text = flat("\n".join(pages))
    for item in policy.terms["exclusions"]:
        assert flat(item["title"]["zh"]) in text, item["key"]
    # The special exclusion is set out prominently on the first page, in full.
    first = flat(pages[0])
    assert "特别除外责任" in first
    for part in ("title", "text", "explanation"):
        assert flat(SPECIAL[part]["zh"]) in first
    assert flat(f"共 {len(keys)} 项") in text


def test_period_dates_are_both_inclusive(policy):
    text = flat("\n".join(pdf_pages(documents.render_policy_pdf(policy))))
    start, end = policy.start_date, policy.end_date
    assert flat(f"{start:%Y-%m-%d} 至 {end:%Y-%m-%d}") in text
    assert flat(f"{start.year}年{start.month}月{start.day}日 零时起") in text
    assert flat(f"{end.year}年{end.month}月{end.day}日 二十四时止") in text
    assert "起止两日均含在内" in text


def test_acknowledgement_summary(policy, applicant_a):
    acknowledgement = policy.acknowledgement
    text = flat("\n".join(pdf_pages(documents.render_policy_pdf(policy))))
    confirmed = timezone.localtime(acknowledgement.confirmed_at, documents.SHANGHAI)
    count = len(policy.terms["exclusions"])
    for expected in [
        applicant_a.full_name,
        applicant_a.email,
        f"{confirmed:%Y-%m-%d %H:%M:%S} 北京时间",
        "127.0.0.1",
        f"{count} / {count}",
        f"{acknowledgement.dwell_seconds} 秒",
    ]:
        assert flat(expected) in text, expected
    assert 95 <= acknowledgement.dwell_seconds < 120


def test_instalment_plan_shows_due_dates_amounts_and_payment(catalogue, firm_a, applicant_a):
    Product.objects.filter(code="PAT-ENF").update(max_instalments=4)
    policy = issued_policy(firm_a, applicant_a, instalments=4)
    rows = list(policy.instalments.order_by("sequence"))
    assert len(rows) == 4 and rows[0].paid_at and not rows[1].paid_at
    text = flat("\n".join(pdf_pages(documents.render_policy_pdf(policy))))
    for row in rows:
        assert flat(f"{row.sequence}/4 {row.due_date:%Y-%m-%d} {row.amount:,.2f}") in text
    paid_on = timezone.localtime(rows[0].paid_at, documents.SHANGHAI).date()
    assert flat(f"已缴 Paid {paid_on:%Y-%m-%d}") in text
    assert text.count("未缴") == 3


def test_every_label_of_the_template_is_in_the_light_face():
    template = (settings.BASE_DIR / "templates" / "pdf" / "policy.html").read_text()
    css = (settings.BASE_DIR / "templates" / "pdf" / "base.css").read_text()
    used = {ch for ch in template + css if ord(ch) > 0x7F}
    used |= {ch for label in documents.INSTALMENT_STATUS.values() for ch in label["zh"]}
    assert used - set(documents.subset_text()) == set()


# --- The document service ------------------------------------------------------------------


def test_issue_queues_one_current_document(policy):
    document = policy.documents.get()
    assert document.is_current and document.status == DocumentStatus.QUEUED
    assert document.version == policy.version


def test_generate_stores_the_document_once(policy):
    document = policy.documents.get()
    assert documents.policy_document_generate(document.pk) is True
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY and document.ready_at
    assert document.file.name == f"policies/{policy.firm_id}/{policy.pk}-v{document.version}.pdf"
    with document.file.open("rb") as stored:
        data = stored.read()
    assert data.startswith(b"%PDF")
    assert document.sha256 == hashlib.sha256(data).hexdigest()
    assert policy.number in flat(pdf_pages(data)[0])

    assert documents.policy_document_generate(document.pk) is False
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
    _, files = default_storage.listdir(f"policies/{policy.firm_id}")
    assert files == [f"{policy.pk}-v{document.version}.pdf"]


def test_generate_replaces_a_leftover_file_instead_of_adding_one(policy):
    document = policy.documents.get()
    name = f"policies/{policy.firm_id}/{policy.pk}-v{document.version}.pdf"
    default_storage.save(name, documents.ContentFile(b"left by a rolled-back attempt"))
    assert documents.policy_document_generate(document.pk) is True
    _, files = default_storage.listdir(f"policies/{policy.firm_id}")
    assert files == [f"{policy.pk}-v{document.version}.pdf"]


@pytest.mark.parametrize("status", [DocumentStatus.READY, DocumentStatus.FAILED])
def test_generate_does_nothing_unless_queued(policy, status):
    document = policy.documents.get()
    PolicyDocument.objects.filter(pk=document.pk).update(status=status)
    assert documents.policy_document_generate(document.pk) is False
    document.refresh_from_db()
    assert document.status == status and not document.file and not document.sha256


def test_generate_of_a_missing_document_is_a_no_op(db):
    assert documents.policy_document_generate(999_999) is False


def test_generate_marks_failed_and_reraises(policy, monkeypatch):
    document = policy.documents.get()

    def broken(policy, **kwargs):
        raise RuntimeError("layout exploded")

    monkeypatch.setattr(documents, "render_policy_pdf", broken)
    with pytest.raises(RuntimeError, match="layout exploded"):
        documents.policy_document_generate(document.pk)
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED
    assert not document.file and not document.sha256 and document.ready_at is None
    assert not default_storage.exists(f"policies/{policy.firm_id}")


def test_a_document_no_longer_current_is_still_rendered(policy):
    document = policy.documents.get()
    PolicyDocument.objects.filter(pk=document.pk).update(is_current=False)
    assert documents.policy_document_generate(document.pk) is True
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY and not document.is_current


def test_the_task_calls_the_service(policy):
    from underwriting.tasks import make_policy_document

    document = policy.documents.get()
    assert make_policy_document.apply(args=(document.pk,)).get() is True
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY
