"""Underwriting documents as PDF: the quote and the policy schedule.

Rendering is Django templates (``templates/pdf/``) fed to WeasyPrint. The documents are bilingual
on purpose (Chinese with English labels side by side, whatever the reader's UI language), so the
templates carry both languages literally and nothing here depends on the active translation.

Fonts, and why this module builds one
-------------------------------------
The system's Noto Sans CJK is a 19 MB collection of ten faces with 65,000 glyphs each. WeasyPrint
embeds a subset of every font it uses, and subsetting that collection is what made one page take
seconds: 8–11 s in DESIGN.md, 8–10 s for this quote here, when WeasyPrint falls back to fontTools
because HarfBuzz's subsetter (Debian's ``libharfbuzz-subset0``) is missing. ``.ci/run`` installs
it; every machine that renders documents needs it.

On top of that, on first use this module cuts a light face out of the installed collection with
fontTools: GB2312 level-1 hanzi (the 3,755 most common characters), ASCII, Latin-1, GB2312's
symbol rows and CJK/full-width punctuation, in regular and bold, with kerning but without the
vertical and Japanese/Korean alternates (about 4,700 glyphs, 0.9 MB a face). The faces are
written once to ``settings.VAR_DIR / "fonts"`` (named by a hash of the source font's path, size
and mtime and of the character set, so a new Noto package or character set rebuilds them) and
reused by every process; nothing binary is committed. ``scripts/build_pdf_fonts.py`` builds them
ahead of time (a deploy step); otherwise the first document pays about 4 s a face. Measured on
the quote in ``tests/underwriting/test_quote_pdf.py`` (two pages), median of one run: 0.24 s and
97 KB against 0.32 s and 334 KB with the system font through HarfBuzz; 1.2 s against 9.6 s through
fontTools.

The policy schedule (four pages with every exclusion in full) measures the same way with
``scripts/bench_policy_pdf.py`` (``make bench-pdf``): here about 0.4–0.7 s and 162 KB against
0.6–0.8 s and 400 KB with HarfBuzz, 1.4 s against 9.6 s through fontTools. Its exclusions are set
in one column: WeasyPrint balances CSS columns by laying them out repeatedly (2.9 s of 3.0 s).

Characters outside the light face (a rare hanzi in a firm's name) still render: the CSS family
list falls back to the full system fonts (Noto Sans CJK SC, Source Han Sans, WenQuanYi, …), and
WeasyPrint picks the fallback per character. Without any Noto CJK source font the module skips
the light face and the documents use the system fonts only.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import os
import ssl
import tempfile
import threading
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from portal.choices import AssetKind
from underwriting.choices import DocumentStatus, InstalmentStatus
from underwriting.models import (
    ClauseVersion,
    Endorsement,
    Policy,
    PolicyDocument,
    Quote,
    Rider,
)

__all__ = [
    "CJK_FAMILY",
    "FALLBACK_FAMILIES",
    "pdf_fonts",
    "policy_context",
    "policy_document_generate",
    "quote_context",
    "quote_pdf_generate",
    "render_pdf",
    "render_policy_document",
    "render_policy_pdf",
    "render_quote_document",
    "render_quote_pdf",
    "subset_text",
]

logger = logging.getLogger(__name__)

PDF_TEMPLATE_DIR = Path(settings.BASE_DIR) / "templates" / "pdf"

# The family name of the light face, in the CSS and inside the font file itself (renamed so that
# fontconfig never confuses it with the full system "Noto Sans CJK SC" used as the fallback).
CJK_FAMILY = "Portal CJK SC"
FALLBACK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "sans-serif",
)
SOURCE_FAMILY = "Noto Sans CJK SC"
# Where distributions put Noto Sans CJK (Debian's fonts-noto-cjk first). A project setting
# ``PDF_CJK_SOURCE_FONTS = {"regular": [...], "bold": [...]}`` goes before these.
SOURCE_FONTS = {
    "regular": (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    ),
    "bold": (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Bold.otf",
    ),
}
WEIGHTS = {"regular": 400, "bold": 700}
# Bump when the subsetting below changes, so every machine rebuilds its faces.
SUBSET_VERSION = "2"


# --- The light CJK face ---------------------------------------------------------------------------


def _gb2312_rows(first: int, last: int) -> str:
    """The characters of GB2312 rows first..last (row 1 is lead byte 0xA1)."""
    chars = []
    for lead in range(0xA0 + first, 0xA0 + last + 1):
        for trail in range(0xA1, 0xFF):
            try:
                chars.append(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return "".join(chars)


def subset_text() -> str:
    """Every character the light face carries."""
    ranges = (
        (0x20, 0x7E),  # ASCII
        (0xA0, 0xFF),  # Latin-1: ·, ×, ÷, ±, §, °, accented names
        (0x2010, 0x2027),  # dashes, quotes, bullet, ellipsis
        (0x2030, 0x203B),  # per mille, primes, guillemets, reference mark
        (0x2103, 0x2103),  # ℃
        (0x2116, 0x2116),  # №
        (0x2160, 0x216B),  # Roman numerals
        (0x2190, 0x2193),  # arrows
        (0x2212, 0x2212),  # minus sign
        (0x2264, 0x2265),  # ≤ ≥
        (0x2460, 0x2473),  # ① … ⑳
        (0x25A0, 0x25CF),  # squares, triangles, circles
        (0x3000, 0x303F),  # CJK symbols and punctuation
        (0xFF01, 0xFF5E),  # full-width forms
        (0xFFE0, 0xFFE6),  # full-width ¥ and friends
    )
    text = "".join(chr(c) for first, last in ranges for c in range(first, last + 1))
    # GB2312 rows 1–9 (symbols, full-width, kana, Greek, Cyrillic, pinyin, box drawing) and
    # rows 16–55 (level-1 hanzi).
    text += _gb2312_rows(1, 9) + _gb2312_rows(16, 55)
    return "".join(sorted(set(text)))


def _font_dir() -> Path:
    return Path(settings.VAR_DIR) / "fonts"


def _source_candidates(weight: str) -> list[str]:
    configured = getattr(settings, "PDF_CJK_SOURCE_FONTS", None) or {}
    return [*configured.get(weight, ()), *SOURCE_FONTS[weight]]


def _face_index(path: str) -> int | None:
    """The index of Noto Sans CJK SC inside a collection (0 for a single font), None if absent."""
    from fontTools.ttLib import TTCollection

    with open(path, "rb") as stream:
        is_collection = stream.read(4) == b"ttcf"
    if not is_collection:
        return 0
    collection = TTCollection(path, lazy=True)
    try:
        for index, font in enumerate(collection.fonts):
            names = {font["name"].getDebugName(1), font["name"].getDebugName(16)}
            if SOURCE_FAMILY in names:
                return index
    finally:
        collection.close()
    return None


def _rename(font, weight: str) -> None:
    """Give the subset its own family name (and drop every other name record)."""
    from fontTools.ttLib.tables._n_a_m_e import table__n_a_m_e

    style = "Bold" if weight == "bold" else "Regular"
    postscript = f"{CJK_FAMILY.replace(' ', '')}-{style}"
    table = table__n_a_m_e()
    table.names = []
    for name_id, value in (
        (1, CJK_FAMILY),
        (2, style),
        (3, f"{postscript};subset-{SUBSET_VERSION}"),
        (4, f"{CJK_FAMILY} {style}"),
        (5, f"Version {SUBSET_VERSION}; subset of {SOURCE_FAMILY}"),
        (6, postscript),
    ):
        table.setName(value, name_id, 3, 1, 0x409)
    font["name"] = table
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [postscript]
        top = cff.topDictIndex[0]
        for key in ("FullName", "FamilyName"):
            if hasattr(top, key):
                setattr(top, key, CJK_FAMILY if key == "FamilyName" else f"{CJK_FAMILY} {style}")


def _build_face(source: str, index: int, target: Path, text: str, weight: str) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.notdef_outline = True
    options.hinting = False  # WeasyPrint drops hinting anyway
    options.name_IDs = ["*"]
    # Kerning only: the GSUB closure (vertical, half-width, Japanese and Korean forms) would
    # double the glyph count for nothing a horizontal Chinese document uses, and WeasyPrint drops
    # GSUB/GPOS from what it embeds anyway. Same for the vertical metrics.
    options.layout_features = ["kern"]
    options.drop_tables += ["vhea", "vmtx", "VORG", "BASE"]
    font = TTFont(source, fontNumber=index, lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    # fontTools reports every step (and every glyph name) at INFO: keep that out of the logs.
    font_tools_log = logging.getLogger("fontTools")
    level = font_tools_log.level
    font_tools_log.setLevel(logging.WARNING)
    try:
        subsetter.subset(font)
    finally:
        font_tools_log.setLevel(level)
    _rename(font, weight)
    # Write beside the target and rename: concurrent builders (two workers) never see half a file.
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".tmp")
    os.close(fd)
    try:
        font.save(temporary)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide it from a web/worker user split
        os.replace(temporary, target)
    finally:
        font.close()
        if os.path.exists(temporary):
            os.unlink(temporary)


def _face(weight: str, text: str) -> Path | None:
    source = next((p for p in _source_candidates(weight) if os.path.isfile(p)), None)
    if source is None:
        return None
    stat = os.stat(source)
    key = hashlib.sha256(
        "\n".join((SUBSET_VERSION, source, str(stat.st_size), str(stat.st_mtime_ns), text)).encode()
    ).hexdigest()[:16]
    target = _font_dir() / f"portal-cjk-sc-{weight}-{key}.otf"
    if target.is_file():
        return target
    index = _face_index(source)
    if index is None:
        logger.warning("No %s face in %s; PDFs use the system fonts.", SOURCE_FAMILY, source)
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    _build_face(source, index, target, text, weight)
    logger.info(
        "Built the light PDF font %s from %s in %.1f s.",
        target.name,
        source,
        time.perf_counter() - started,
    )
    for stale in target.parent.glob(f"portal-cjk-sc-{weight}-*.otf"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return target


_faces: dict[str, Path] | None = None
_faces_lock = threading.Lock()


def pdf_fonts() -> dict[str, Path]:
    """The light faces by weight ("regular", "bold"), built on first use; {} when they cannot
    be had (no Noto CJK on the machine, fontTools failed): the documents then use system fonts."""
    global _faces
    if _faces is not None and all(path.is_file() for path in _faces.values()):
        return _faces
    with _faces_lock:
        if _faces is not None and all(path.is_file() for path in _faces.values()):
            return _faces
        text = subset_text()
        faces = {}
        for weight in WEIGHTS:
            try:
                face = _face(weight, text)
            except Exception:
                logger.exception("Could not build the %s PDF font; using system fonts.", weight)
                face = None
            if face is not None:
                faces[weight] = face
        # A bold face without a regular one would set all body text in bold.
        if "regular" not in faces:
            faces = {}
        _faces = faces
        return faces


def _font_css(faces: dict[str, Path]) -> str:
    rules = [
        f'@font-face {{ font-family: "{CJK_FAMILY}"; src: url("{path.as_uri()}"); '
        f"font-weight: {WEIGHTS[weight]}; font-style: normal; }}"
        for weight, path in faces.items()
    ]
    families = [CJK_FAMILY] if faces else []
    families += FALLBACK_FAMILIES
    stack = ", ".join(name if name == "sans-serif" else f'"{name}"' for name in families)
    rules.append(f"html {{ font-family: {stack}; }}")
    rules.append(f"@page {{ font-family: {stack}; }}")
    return "\n".join(rules)


# --- Rendering -----------------------------------------------------------------------------------


def _local_fetcher(allowed: list[Path]):
    """A URL fetcher that reads only files below ``allowed`` folders: a document never reaches
    the network or the rest of the disk, whatever text ends up in it."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    roots = [folder.resolve() for folder in allowed]

    class LocalOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            if parts.scheme != "file":
                raise ValueError(f"PDF documents load local files only, not {url!r}")
            path = Path(unquote(parts.path)).resolve()
            if not any(path.is_relative_to(root) for root in roots):
                raise ValueError(f"{path} is outside the PDF template and font folders")
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(
                url, body=path.read_bytes(), headers={"Content-Type": content_type}
            )

    # A bare TLS context: the default one loads the system's CA store (~20 ms a document) for
    # HTTPS that this fetcher never does.
    return LocalOnlyFetcher(
        allowed_protocols=("file",), ssl_context=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    )


def _html(template_name: str, context: dict, *, subset_fonts: bool = True):
    from weasyprint import HTML

    faces = pdf_fonts() if subset_fonts else {}
    html = render_to_string(template_name, {**context, "font_css": _font_css(faces)})
    fetcher = _local_fetcher([PDF_TEMPLATE_DIR, _font_dir()])
    return HTML(string=html, base_url=PDF_TEMPLATE_DIR.as_uri() + "/", url_fetcher=fetcher)


WRITE_OPTIONS = {
    "uncompressed_pdf": False,
    "optimize_images": True,
    "full_fonts": False,  # embed only the glyphs used
    "hinting": False,
    "pdf_tags": False,
}


def render_pdf(template_name: str, context: dict, *, subset_fonts: bool = True) -> bytes:
    """A template under ``templates/pdf/`` as PDF bytes. ``subset_fonts=False`` leaves the light
    face out (the system fonts only): the slow path, kept for measuring and as the fallback."""
    return _html(template_name, context, subset_fonts=subset_fonts).write_pdf(**WRITE_OPTIONS)


# --- The quote -----------------------------------------------------------------------------------


def _bi(value) -> dict:
    """{"zh": ..., "en": ...} from a bilingual dict, a plain string or nothing."""
    if isinstance(value, dict):
        return {"zh": str(value.get("zh") or ""), "en": str(value.get("en") or "")}
    return {"zh": "" if value is None else str(value), "en": ""}


def _bi_name(obj) -> dict:
    return {"zh": obj.name_zh, "en": obj.name_en} if obj is not None else {"zh": "", "en": ""}


def _both_languages(label) -> dict:
    with translation.override("zh-hans"):
        zh = str(label)
    with translation.override("en"):
        en = str(label)
    return {"zh": zh, "en": en}


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _exclusion(item) -> dict:
    item = item if isinstance(item, dict) else {"title": item}
    return {
        "title": _bi(item.get("title")),
        "text": _bi(item.get("text")),
        "explanation": _bi(item.get("explanation")),
    }


def quote_context(quote: Quote) -> dict:
    """Everything ``pdf/quote.html`` shows, read in a fixed handful of queries."""
    application = quote.application
    firm = application.firm
    product = application.product
    version: ClauseVersion = application.clause_version
    breakdown = quote.breakdown or {}

    insurers = [
        {"name": _bi_name(row.insurer), "share": row.share}
        for row in product.insurer_shares.select_related("insurer").order_by(
            "-share", "insurer__code"
        )
    ]
    assets = []
    for row in application.insured_assets.select_related("asset"):
        asset = row.asset
        try:
            kind = _both_languages(AssetKind(asset.kind).label)
        except ValueError:
            kind = _bi(asset.kind)
        assets.append({"kind": kind, "number": asset.number, "title": asset.title})

    section_names = {s.code: _bi_name(s) for s in version.rating_sections.all()}
    for section in breakdown.get("sections", ()):
        section_names.setdefault(section.get("code"), _bi(section.get("name")))
    limits = [
        {
            "code": code,
            "name": section_names.get(code) or _bi(code),
            "limit": limit,
        }
        for code, limit in (quote.limits or {}).items()
        if limit not in (None, "")
    ]

    rider_factors = {r.get("code"): r for r in breakdown.get("riders", ())}
    rider_names = {
        r.code: _bi_name(r) for r in Rider.objects.filter(code__in=quote.rider_codes or [])
    }
    riders = [
        {
            "code": code,
            "name": rider_names.get(code) or _bi(rider_factors.get(code, {}).get("name") or code),
            "factor": rider_factors.get(code, {}).get("factor"),
        }
        for code in quote.rider_codes or []
    ]

    sections = []
    for section in breakdown.get("sections", ()):
        sections.append(
            {
                "code": section.get("code"),
                "name": _bi(section.get("name"))
                if section.get("name")
                else section_names.get(section.get("code"), _bi(section.get("code"))),
                "limit": section.get("limit"),
                "base_rate": section.get("base_rate"),
                "count": section.get("count"),
                "coefficients": [
                    {
                        "table": c.get("table"),
                        "table_name": _bi(c.get("table_name") or c.get("table")),
                        "option": c.get("option"),
                        "option_label": _bi(c.get("option_label") or c.get("option")),
                        "factor": c.get("factor"),
                    }
                    for c in section.get("coefficients", ())
                ],
                "coefficient_product": section.get("coefficient_product"),
                "premium": section.get("premium"),
            }
        )
    breakdown_riders = [
        {
            "code": r.get("code"),
            "name": _bi(r.get("name") or r.get("code")),
            "factor": r.get("factor"),
        }
        for r in breakdown.get("riders", ())
    ]

    adjustment = _decimal(quote.adjustment_percent) or Decimal("0")
    return {
        "number": quote.number,
        "issued_on": timezone.localdate(quote.created_at) if quote.created_at else None,
        "valid_until": quote.valid_until,
        "insurers": insurers,
        "firm": {"name": _bi_name(firm), "uscc": firm.uscc, "address": firm.address},
        "application_reference": application.reference,
        "product": {"name": _bi_name(product), "code": product.code},
        "clause": {
            "label": version.label,
            "number": version.number,
            "effective_date": version.effective_date,
            "sha256": version.text_sha256,
            "deductible_rules": _bi(version.deductible_rules),
        },
        "assets": assets,
        "sum_insured": quote.sum_insured,
        "limits": limits,
        "deductible": quote.deductible,
        "riders": riders,
        "breakdown": {
            "sections": sections,
            "sections_total": breakdown.get("sections_total"),
            "riders": breakdown_riders,
            "rider_product": breakdown.get("rider_product"),
            "after_riders": breakdown.get("after_riders"),
            "minimum_premium": breakdown.get("minimum_premium"),
            "minimum_applied": bool(breakdown.get("minimum_applied")),
            "total": breakdown.get("total", quote.technical_premium),
        },
        "technical_premium": quote.technical_premium,
        "adjustment_percent": adjustment,
        "adjustment_display": f"{adjustment:+.2f}%",
        "adjusted": adjustment != 0,
        "premium": quote.premium,
        "special_exclusions": [_exclusion(e) for e in quote.special_exclusions or []],
        "clause_exclusions": [_exclusion(e) for e in version.exclusions or []],
    }


def _with_related(quote: Quote) -> Quote:
    if Quote._meta.get_field("application").is_cached(quote):
        return quote
    return Quote.objects.select_related(
        "application__firm", "application__product", "application__clause_version"
    ).get(pk=quote.pk)


def render_quote_document(quote: Quote, *, subset_fonts: bool = True):
    """The laid-out WeasyPrint document of a quote (pages and boxes; ``write_pdf()`` for bytes)."""
    html = _html("pdf/quote.html", quote_context(_with_related(quote)), subset_fonts=subset_fonts)
    return html.render()


def render_quote_pdf(quote: Quote, *, subset_fonts: bool = True) -> bytes:
    """The quote as PDF bytes: Chinese with English labels."""
    return render_quote_document(quote, subset_fonts=subset_fonts).write_pdf(**WRITE_OPTIONS)


def quote_pdf_generate(quote_id: int) -> bool:
    """Render a queued quote's PDF and store it; False when there is nothing to do (the quote is
    gone, or its PDF is not queued: already ready, failed or never requested). Idempotent: the
    status is checked and changed under a row lock, so two workers never make two files.
    A rendering or storage error marks the PDF failed (the sweeper or staff may queue it again)
    and is raised again for the task to log."""
    pdf_fonts()  # Build the light faces (first use only) before taking the row lock.
    stored_name = ""
    try:
        with transaction.atomic():
            quote = (
                Quote.objects.select_for_update(of=("self",))
                .select_related(
                    "application__firm", "application__product", "application__clause_version"
                )
                .filter(pk=quote_id)
                .first()
            )
            if quote is None or quote.pdf_status != DocumentStatus.QUEUED:
                return False
            data = render_quote_pdf(quote)
            storage = quote.pdf.storage
            name = quote.pdf.field.generate_filename(quote, f"{quote.number}.pdf")
            previous = quote.pdf.name
            # A file left at this name by an attempt whose transaction rolled back is replaced,
            # not kept beside a second copy with a random suffix.
            if storage.exists(name):
                storage.delete(name)
            stored_name = storage.save(name, ContentFile(data))
            quote.pdf.name = stored_name
            quote.pdf_sha256 = hashlib.sha256(data).hexdigest()
            quote.pdf_status = DocumentStatus.READY
            quote.save(update_fields=["pdf", "pdf_sha256", "pdf_status"])
            if previous and previous != stored_name:
                # robust: failing to tidy the old file must not undo the new one.
                transaction.on_commit(lambda: storage.delete(previous), robust=True)
        return True
    except Exception:
        if stored_name:
            Quote._meta.get_field("pdf").storage.delete(stored_name)
        _mark_failed(quote_id)
        raise


def _mark_failed(quote_id: int) -> None:
    try:
        with transaction.atomic():
            quote = Quote.objects.select_for_update(of=("self",)).filter(pk=quote_id).first()
            if quote is not None and quote.pdf_status == DocumentStatus.QUEUED:
                quote.pdf_status = DocumentStatus.FAILED
                quote.save(update_fields=["pdf_status"])
    except Exception:
        logger.exception("Could not mark the PDF of quote %s as failed.", quote_id)


# --- The policy schedule -------------------------------------------------------------------------

# Acknowledgement times are evidence: shown in the insurer's zone whatever TIME_ZONE says.
SHANGHAI = ZoneInfo("Asia/Shanghai")
INSTALMENT_STATUS = {
    InstalmentStatus.PAID: {"zh": "已缴", "en": "Paid"},
    InstalmentStatus.DUE: {"zh": "未缴", "en": "Due"},
    InstalmentStatus.WAIVED: {"zh": "无需缴付", "en": "No longer due"},
}
POLICY_RELATED = (
    "firm",
    "product",
    "clause_version",
    "acknowledgement__user",
    "acknowledgement__firm",
)


def verification_url() -> str:
    """The public page where anyone checks a policy by its number and verification code."""
    return settings.PORTAL_BASE_URL.rstrip("/") + "/verify/"


def _asset_kind(kind) -> dict:
    try:
        return _both_languages(AssetKind(kind).label)
    except ValueError:
        return _bi(kind)


def _deductible(version: ClauseVersion, code) -> dict:
    """The label of the chosen deductible option ("10%" and the like), else the stored code."""
    if code in (None, ""):
        return {"zh": "", "en": ""}
    for table in version.coefficient_tables.all():
        if table.input_key != "deductible_rate":
            continue
        for option in table.options.all():
            if option.code == code:
                return {"zh": option.label_zh, "en": option.label_en}
    return _bi(code)


def _exclusion_groups(exclusions) -> tuple[list[dict], list[dict]]:
    """The exclusions of the terms as (special ones, groups by source of the others), keeping
    the order in which they were shown and acknowledged."""
    special, groups = [], []
    for item in exclusions or ():
        item = item if isinstance(item, dict) else {"title": item}
        row = {
            **_exclusion(item),
            "key": str(item.get("key") or ""),
            "source": _bi(item.get("source")),
        }
        if row["key"].startswith("special-"):
            special.append(row)
            continue
        kind = "rider" if row["key"].startswith("rider-") else "clause"
        if not groups or groups[-1]["source"] != row["source"] or groups[-1]["kind"] != kind:
            groups.append({"kind": kind, "source": row["source"], "items": []})
        groups[-1]["items"].append(row)
    return special, groups


def _acknowledgement(acknowledgement) -> dict:
    user = acknowledgement.user
    items = acknowledgement.items or []
    return {
        "user_name": user.full_name,
        "user_email": user.email,
        "firm": _bi_name(acknowledgement.firm),
        "shown_at": timezone.localtime(acknowledgement.shown_at, SHANGHAI),
        "confirmed_at": timezone.localtime(acknowledgement.confirmed_at, SHANGHAI),
        "ip_address": acknowledgement.ip_address or "",
        "ticked": sum(1 for item in items if isinstance(item, dict) and item.get("ticked_at")),
        "items": len(items),
        "dwell_seconds": acknowledgement.dwell_seconds,
        "notice_version": acknowledgement.notice_version,
        "text_sha256": acknowledgement.text_sha256,
        "channel": acknowledgement.channel,
    }


def policy_context(
    policy: Policy, *, version: int | None = None, terms: dict | None = None
) -> dict:
    """Everything ``pdf/policy.html`` shows. The terms come from the policy's snapshot (what was
    acknowledged and bought), not from today's catalogue; the catalogue only supplies display
    names the snapshot does not carry (section names, rider names, the deductible's label)."""
    terms = policy.terms if terms is None else terms
    terms = terms or {}
    clause = policy.clause_version
    breakdown = terms.get("breakdown") or {}

    insurers = sorted(
        (
            {
                "code": row.get("code") or "",
                "name": {"zh": row.get("zh") or "", "en": row.get("en") or ""},
                "share": _decimal(row.get("share")),
            }
            for row in terms.get("insurers") or ()
        ),
        key=lambda row: (-(row["share"] or 0), row["code"]),
    )

    sections = list(clause.rating_sections.all())
    section_names = {s.code: _bi_name(s) for s in sections}
    for section in breakdown.get("sections", ()):
        if section.get("name"):
            section_names.setdefault(section.get("code"), _bi(section.get("name")))
    chosen = {code: limit for code, limit in (terms.get("limits") or {}).items() if limit != ""}
    # JSON objects have no dependable key order (PostgreSQL's jsonb sorts them): the clause's.
    order = [s.code for s in sections if s.code in chosen]
    order += sorted(code for code in chosen if code not in order)
    limits = [
        {"code": code, "name": section_names.get(code) or _bi(code), "limit": chosen[code]}
        for code in order
        if chosen[code] is not None
    ]

    rider_codes = list(terms.get("riders") or [])
    rider_factors = {r.get("code"): r for r in breakdown.get("riders", ())}
    rider_names = {r.code: _bi_name(r) for r in Rider.objects.filter(code__in=rider_codes)}
    riders = [
        {
            "code": code,
            "name": rider_names.get(code) or _bi(rider_factors.get(code, {}).get("name") or code),
            "factor": rider_factors.get(code, {}).get("factor"),
        }
        for code in rider_codes
    ]

    instalments = [
        {
            "sequence": row.sequence,
            "due_date": row.due_date,
            "amount": row.amount,
            "paid": row.status == InstalmentStatus.PAID,
            "paid_on": timezone.localtime(row.paid_at, SHANGHAI).date() if row.paid_at else None,
            "status": INSTALMENT_STATUS.get(row.status) or _bi(row.status),
        }
        for row in policy.instalments.order_by("sequence")
    ]

    special, exclusion_groups = _exclusion_groups(terms.get("exclusions"))
    product = terms.get("product") or {}
    clause_terms = terms.get("clause_version") or {}
    firm = policy.firm
    return {
        "number": policy.number or "",
        "verification_code": policy.verification_code,
        "verification_url": verification_url(),
        "version": policy.version if version is None else version,
        "issued_on": timezone.localtime(policy.issued_at, SHANGHAI).date()
        if policy.issued_at
        else None,
        "start_date": policy.start_date,
        "end_date": policy.end_date,
        "insurers": insurers,
        "firm": {"name": _bi_name(firm), "uscc": firm.uscc, "address": firm.address},
        "product": {
            "code": product.get("code") or policy.product.code,
            "name": {
                "zh": product.get("zh") or policy.product.name_zh,
                "en": product.get("en") or policy.product.name_en,
            },
        },
        "clause": {
            "label": clause_terms.get("label") or clause.label,
            "number": clause.number,
            "effective_date": clause.effective_date,
            "sha256": clause_terms.get("sha256") or clause.text_sha256,
            "deductible_rules": _bi(clause.deductible_rules),
        },
        "assets": [
            {"kind": _asset_kind(a.get("kind")), "number": a.get("number"), "title": a.get("title")}
            for a in terms.get("insured") or ()
        ],
        "sum_insured": policy.sum_insured,
        "limits": limits,
        "deductible": _deductible(clause, terms.get("deductible")),
        "riders": riders,
        "premium": policy.premium,
        "instalments": instalments,
        "instalments_total": sum((row["amount"] for row in instalments), Decimal("0")),
        "special_exclusions": special,
        "exclusion_groups": exclusion_groups,
        "exclusion_count": len(special) + sum(len(g["items"]) for g in exclusion_groups),
        "acknowledgement": _acknowledgement(policy.acknowledgement),
    }


def _policy_with_related(policy: Policy) -> Policy:
    if Policy._meta.get_field("acknowledgement").is_cached(policy):
        return policy
    return Policy.objects.select_related(*POLICY_RELATED).get(pk=policy.pk)


def render_policy_document(policy: Policy, *, subset_fonts: bool = True, **context):
    """The laid-out WeasyPrint document of a policy schedule (``write_pdf()`` for bytes).
    ``version``/``terms`` render an earlier version of the schedule (see policy_context)."""
    data = policy_context(_policy_with_related(policy), **context)
    return _html("pdf/policy.html", data, subset_fonts=subset_fonts).render()


def render_policy_pdf(policy: Policy, *, subset_fonts: bool = True, **context) -> bytes:
    """The policy schedule as PDF bytes: Chinese with English labels."""
    document = render_policy_document(policy, subset_fonts=subset_fonts, **context)
    return document.write_pdf(**WRITE_OPTIONS)


def _terms_of_version(policy: Policy, version: int) -> dict | None:
    """The terms a superseded version had: the endorsement that made the next version kept
    them. None for the current version (and when no endorsement recorded them)."""
    if version == policy.version:
        return None
    endorsement = Endorsement.objects.filter(policy=policy, version=version + 1).first()
    return endorsement.previous_terms if endorsement is not None else None


def policy_document_generate(document_id: int) -> bool:
    """Render a queued policy document and store it; False when there is nothing to do (the
    document is gone, or not queued: already ready or failed). Idempotent like
    ``quote_pdf_generate``: the status is checked and changed under the document's row lock, so
    two workers never make two files. A document that is no longer current is still rendered
    (it is the record of its version). A rendering or storage error marks the document failed
    and is raised again for the task to log."""
    pdf_fonts()  # Build the light faces (first use only) before taking the row lock.
    storage = PolicyDocument._meta.get_field("file").storage
    stored_name = ""
    try:
        with transaction.atomic():
            document = (
                PolicyDocument.objects.select_for_update(of=("self",))
                .select_related(*(f"policy__{name}" for name in POLICY_RELATED))
                .filter(pk=document_id)
                .first()
            )
            if document is None or document.status != DocumentStatus.QUEUED:
                return False
            policy = document.policy
            terms = _terms_of_version(policy, document.version)
            data = render_policy_pdf(policy, version=document.version, terms=terms)
            name = document.file.field.generate_filename(
                document, f"{policy.number or policy.pk}.pdf"
            )
            previous = document.file.name
            # A file left at this name by an attempt whose transaction rolled back is replaced,
            # not kept beside a second copy with a random suffix.
            if storage.exists(name):
                storage.delete(name)
            stored_name = storage.save(name, ContentFile(data))
            document.file.name = stored_name
            document.sha256 = hashlib.sha256(data).hexdigest()
            document.status = DocumentStatus.READY
            document.ready_at = timezone.now()
            document.save(update_fields=["file", "sha256", "status", "ready_at"])
            if previous and previous != stored_name:
                # robust: failing to tidy the old file must not undo the new one.
                transaction.on_commit(lambda: storage.delete(previous), robust=True)
        return True
    except Exception:
        if stored_name:
            storage.delete(stored_name)
        _mark_document_failed(document_id)
        raise


def _mark_document_failed(document_id: int) -> None:
    try:
        with transaction.atomic():
            document = PolicyDocument.objects.select_for_update().filter(pk=document_id).first()
            if document is not None and document.status == DocumentStatus.QUEUED:
                document.status = DocumentStatus.FAILED
                document.save(update_fields=["status"])
    except Exception:
        logger.exception("Could not mark policy document %s as failed.", document_id)
