"""The quote PDF: what it shows, how fast it renders, and the idempotent generation service."""

import hashlib
import re
import shutil
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from tests.factories import IPAssetFactory, UserFactory
from tests.underwriting.catalogue_factories import patent_enforcement_product
from underwriting import documents, services
from underwriting.choices import ApplicationStatus, ClauseStatus, DocumentStatus, QuoteStatus
from underwriting.models import Application, ApplicationAsset, Quote

pytestmark = pytest.mark.django_db

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


def breakdown_json(result, version) -> dict:
    """The stored shape of a premium breakdown (bilingual names, Decimals as strings)."""
    sections = {s.code: s for s in version.rating_sections.all()}
    tables = {t.code: t for t in version.coefficient_tables.all()}
    options = {(t.code, o.code): o for t in tables.values() for o in t.options.all()}
    riders = {f.rider.code: f.rider for f in version.rider_factors.select_related("rider")}

    def bi(obj, zh="name_zh", en="name_en"):
        return {"zh": getattr(obj, zh), "en": getattr(obj, en)}

    return {
        "sections": [
            {
                "code": s.code,
                "name": bi(sections[s.code]),
                "limit": str(s.limit),
                "base_rate": str(s.base_rate),
                "count": s.count,
                "coefficients": [
                    {
                        "table": c.table,
                        "table_name": bi(tables[c.table]),
                        "option": c.option,
                        "option_label": bi(options[c.table, c.option], "label_zh", "label_en"),
                        "factor": str(c.factor),
                    }
                    for c in s.coefficients
                ],
                "coefficient_product": str(s.coefficient_product),
                "premium": str(s.premium),
            }
            for s in result.sections
        ],
        "sections_total": str(result.sections_total),
        "riders": [
            {"code": r.code, "name": bi(riders[r.code]), "factor": str(r.factor)}
            for r in result.riders
        ],
        "rider_product": str(result.rider_product),
        "after_riders": str(result.after_riders),
        "minimum_premium": str(result.minimum_premium),
        "minimum_applied": result.minimum_applied,
        "total": str(result.total),
    }


@pytest.fixture
def quote(firm_a, applicant_a):
    actor = UserFactory(email="pm@example.test", is_staff=True)
    product = patent_enforcement_product(actor=actor)
    version = product.clause_versions.get(status=ClauseStatus.PUBLISHED)
    limits = {"investigation": "50000", "legal": "150000"}
    application = Application.objects.create(
        firm=firm_a,
        product=product,
        clause_version=version,
        created_by=applicant_a,
        status=ApplicationStatus.QUOTED,
        limits=limits,
        deductible="10%",
        sum_insured=Decimal("200000.00"),
    )
    asset = IPAssetFactory(firm=firm_a, title="一种基于深度学习的图像识别方法")
    ApplicationAsset.objects.create(application=application, asset=asset)
    result = services.premium_quote(version=version, limits=limits, item_count=1)
    assert result.total == Decimal("7164.00")
    return Quote.objects.create(
        application=application,
        number="Q2026-000123",
        status=QuoteStatus.OFFERED,
        limits=limits,
        deductible="10%",
        sum_insured=Decimal("200000.00"),
        breakdown=breakdown_json(result, version),
        technical_premium=result.total,
        adjustment_percent=Decimal("10.00"),
        premium=Decimal("7880.40"),
        special_exclusions=[SPECIAL],
        valid_until=date(2026, 12, 31),
    )


def layout_text(document) -> str:
    """The text WeasyPrint laid out, page by page (no PDF reader needed)."""
    from weasyprint.formatting_structure.boxes import TextBox

    return "\n".join(
        "".join(box.text for box in page._page_box.descendants() if isinstance(box, TextBox))
        for page in document.pages
    )


def pdf_text(pdf: bytes, tmp_path) -> str | None:
    """The text a PDF reader extracts, when poppler's pdftotext is installed."""
    if not shutil.which("pdftotext"):
        return None
    path = tmp_path / "quote.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout


def embedded_fonts(pdf: bytes) -> set[str]:
    """The PDF's font names without the subset tag and dashes: {"PortalCJKSC", ...}."""
    names = re.findall(rb"/BaseFont\s*/(?:[A-Z]{6}\+)?([\w-]+)", pdf)
    return {name.decode().replace("-", "") for name in names}


EXPECTED = [
    "Q2026-000123",
    "7,164.00",  # the premium from the rating table
    "7,880.40",  # after the underwriter's +10 %
    "1,764.00",  # a section's premium
    "保险费",
    "Premium",
    "特别除外责任",
    SPECIAL["title"]["zh"],
    SPECIAL["title"]["en"],
    "中国人民财产保险股份有限公司",
    "Ping An P&C",
    "甲公司",
    "本报价单不是保险单",
    "除外责任标题1",
]


def test_quote_pdf_shows_the_quote(quote, tmp_path):
    document = documents.render_quote_document(quote)
    pdf = document.write_pdf()
    assert pdf.startswith(b"%PDF")
    assert len(document.pages) <= 3

    laid_out = layout_text(document)
    for expected in [
        *EXPECTED,
        quote.application.firm.uscc,
        quote.application.clause_version.text_sha256,
    ]:
        assert expected in laid_out, expected
    assert "+10.00%" in laid_out
    assert "共保份额 60%" in laid_out

    extracted = pdf_text(documents.render_quote_pdf(quote), tmp_path)
    if extracted is not None:
        flat = re.sub(r"\s+", "", extracted)
        for expected in EXPECTED:
            assert re.sub(r"\s+", "", expected) in flat, expected


def test_money_has_separators_and_two_places(quote):
    text = layout_text(documents.render_quote_document(quote))
    assert "200,000.00" in text  # sum insured
    assert "150,000.00" in text  # a limit
    assert "50,000.00 × 0.049 × 1 × 0.9 × 0.8 × 1 = 1,764.00" in text


def test_light_face_is_embedded_and_rare_characters_fall_back(quote, tmp_path):
    if not documents.pdf_fonts():
        pytest.skip("no Noto Sans CJK on this machine: the documents use the system fonts")
    rare = "鑫"  # GB2312 level 2: outside the light face
    assert rare not in documents.subset_text()
    firm = quote.application.firm
    firm.name_zh = f"无锡{rare}盛科技有限公司"
    firm.save()

    document = documents.render_quote_document(quote)
    # Uncompressed, so that the font dictionaries can be read from the bytes.
    fonts = embedded_fonts(document.write_pdf(uncompressed_pdf=True))
    assert any(name.startswith("PortalCJKSC") for name in fonts), fonts
    # The rare character came from the full system font, not a blank box.
    assert any(name.startswith("NotoSansCJK") for name in fonts), fonts
    assert f"无锡{rare}盛科技有限公司" in layout_text(document)
    extracted = pdf_text(document.write_pdf(), tmp_path)
    if extracted is not None:
        assert f"无锡{rare}盛科技有限公司" in extracted


def test_every_label_of_the_template_is_in_the_light_face():
    template = (settings.BASE_DIR / "templates" / "pdf" / "quote.html").read_text()
    css = (settings.BASE_DIR / "templates" / "pdf" / "base.css").read_text()
    used = {ch for ch in template + css if ord(ch) > 0x7F}
    assert used - set(documents.subset_text()) == set()


def test_generate_stores_the_pdf_once(quote):
    quote.pdf_status = DocumentStatus.QUEUED
    quote.save(update_fields=["pdf_status"])

    assert documents.quote_pdf_generate(quote.pk) is True
    quote.refresh_from_db()
    assert quote.pdf_status == DocumentStatus.READY
    assert quote.pdf.name == f"quotes/{quote.application.firm_id}/Q2026-000123.pdf"
    with quote.pdf.open("rb") as stored:
        data = stored.read()
    assert data.startswith(b"%PDF")
    assert quote.pdf_sha256 == hashlib.sha256(data).hexdigest()
    # Rendering is deterministic: the same quote renders to the same fingerprint again.
    assert hashlib.sha256(documents.render_quote_pdf(quote)).hexdigest() == quote.pdf_sha256
    assert not quote.pdf.url.startswith(settings.STATIC_URL)

    assert documents.quote_pdf_generate(quote.pk) is False
    _, files = default_storage.listdir(f"quotes/{quote.application.firm_id}")
    assert files == ["Q2026-000123.pdf"]


def test_generate_replaces_a_leftover_file_instead_of_adding_one(quote):
    name = f"quotes/{quote.application.firm_id}/Q2026-000123.pdf"
    default_storage.save(name, documents.ContentFile(b"left by a rolled-back attempt"))
    Quote.objects.filter(pk=quote.pk).update(pdf_status=DocumentStatus.QUEUED)

    assert documents.quote_pdf_generate(quote.pk) is True
    _, files = default_storage.listdir(f"quotes/{quote.application.firm_id}")
    assert files == ["Q2026-000123.pdf"]
    quote.refresh_from_db()
    with quote.pdf.open("rb") as stored:
        assert stored.read().startswith(b"%PDF")


@pytest.mark.parametrize(
    "status", [DocumentStatus.NONE, DocumentStatus.READY, DocumentStatus.FAILED]
)
def test_generate_does_nothing_unless_queued(quote, status):
    Quote.objects.filter(pk=quote.pk).update(pdf_status=status)
    assert documents.quote_pdf_generate(quote.pk) is False
    quote.refresh_from_db()
    assert quote.pdf_status == status
    assert not quote.pdf


def test_generate_of_a_missing_quote_is_a_no_op(db):
    assert documents.quote_pdf_generate(999_999) is False


def test_generate_marks_failed_and_reraises(quote, monkeypatch):
    Quote.objects.filter(pk=quote.pk).update(pdf_status=DocumentStatus.QUEUED)

    def broken(quote, **kwargs):
        raise RuntimeError("layout exploded")

    monkeypatch.setattr(documents, "render_quote_pdf", broken)
    with pytest.raises(RuntimeError, match="layout exploded"):
        documents.quote_pdf_generate(quote.pk)
    quote.refresh_from_db()
    assert quote.pdf_status == DocumentStatus.FAILED
    assert not quote.pdf
    assert not default_storage.exists(f"quotes/{quote.application.firm_id}")


def test_renders_with_the_system_fonts_when_there_is_no_light_face(quote, monkeypatch):
    monkeypatch.setattr(documents, "pdf_fonts", lambda: {})
    document = documents.render_quote_document(quote)
    assert "7,164.00" in layout_text(document)
    fonts = embedded_fonts(document.write_pdf(uncompressed_pdf=True))
    assert not any(name.startswith("PortalCJKSC") for name in fonts), fonts


def test_riders_and_the_minimum_premium_are_shown(quote):
    version = quote.application.clause_version
    result = services.premium_quote(
        version=version, limits=quote.limits, item_count=1, rider_codes=["R-ADVANCE-T"]
    )
    assert result.total == Decimal("8238.60")
    quote.rider_codes = ["R-ADVANCE-T"]
    quote.breakdown = breakdown_json(result, version)
    quote.technical_premium = quote.premium = result.total
    quote.adjustment_percent = Decimal("0.00")
    quote.save()

    text = layout_text(documents.render_quote_document(quote))
    assert "诉讼费用预付附加险" in text
    assert "Advance of legal costs rider" in text
    assert "×1.15" in text
    assert "7,164.00 × 1.15" in text
    assert "8,238.60" in text
    assert "未调整" in text  # no underwriter's adjustment
    assert "未适用" in text  # the minimum premium of 1,000.00 did not apply
