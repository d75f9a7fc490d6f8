"""The background re-check of stored claim documents: type from the bytes, page counts, previews,
and refusals for what the upload check could not see (damage, passwords, bombs, swapped bytes).

Every file is built here; message texts are checked in English."""

import io
import random
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image, ImageFile
from pypdf import PdfWriter

from portal import processing
from portal.processing import PREVIEW_MAX_PX, ProcessingResult, inspect_stored
from portal.uploads import store_upload

MiB = 1024 * 1024

# --- Builders ---------------------------------------------------------------------------------

A4 = (595, 842)
# A black square in the top-left corner, to tell the first page's preview from a blank one.
MARKED = b"0 g 0 642 200 200 re f"


def _pdf(pages: list[tuple[int, int, bytes]]) -> bytes:
    """A PDF with one page per (width, height, content stream), with a correct xref table."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for width, height, content in pages:
        kids.append(b"%d 0 R" % (len(objects) + 1))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R >>"
            % (width, height, len(objects) + 2)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(pages))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


# Portrait first page, then landscape and square: the preview's shape says which page it shows.
THREE_PAGES = _pdf([(*A4, MARKED), (842, 595, b""), (300, 300, b"")])


def _encrypted(pdf: bytes, *, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-256")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _image(fmt: str, size: tuple[int, int], *, mode: str = "RGB", orientation=None) -> bytes:
    """A white image with a black left half, so that a preview turned wrongly would show."""
    image = Image.new("RGB", size, "white")
    image.paste((0, 0, 0), (0, 0, size[0] // 2, size[1]))
    if mode == "I;16":
        # Full 16-bit white, as a scanner writes it, not 255 of 65535.
        image = image.convert("L").convert("I").point(lambda value: value * 257)
        image = image.convert("I;16")
    elif mode != "RGB":
        image = image.convert(mode)
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(buffer, fmt, exif=exif)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_bomb(side: int) -> bytes:
    """A greyscale PNG of side × side black pixels: a few hundred KB that decode to side² bytes."""
    compressor = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte 0, then the pixels
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
)
APP_NS = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    )
    + "]>"
)


def _zip(parts: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _docx(app_xml: str | None = None, **extra: str | bytes) -> bytes:
    parts = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": "<Relationships/>",
        "word/document.xml": "<w:document/>",
    }
    if app_xml is not None:
        parts["docProps/app.xml"] = app_xml
    return _zip(parts | extra)


def _app_xml(pages: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Properties xmlns="{APP_NS}">'
        f"<Application>Microsoft Office Word</Application><Pages>{pages}</Pages>"
        "<Words>120</Words></Properties>"
    )


def _workbook(sheets: int, *, before: str = "", after: str = "") -> str:
    entries = "".join(f'<sheet name="S{n}" sheetId="{n}" r:id="rId{n}"/>' for n in range(sheets))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{SHEET_NS}" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"{before}<sheets>{entries}</sheets>{after}</workbook>"
    )


def _xlsx(workbook_xml: str) -> bytes:
    return _zip(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "_rels/.rels": "<Relationships/>",
            "xl/workbook.xml": workbook_xml,
            "xl/worksheets/sheet1.xml": "<worksheet/>",
        }
    )


EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48) + b"PE\0\0"


def _store(content: bytes, extension: str, storage=None) -> str:
    storage = default_storage if storage is None else storage
    return storage.save(f"claims/evidence/doc.{extension}", ContentFile(content))


def _inspect(content: bytes, extension: str, **kwargs) -> ProcessingResult:
    with translation.override("en"):
        return inspect_stored(_store(content, extension), expected_extension=extension, **kwargs)


def _preview(result: ProcessingResult) -> Image.Image:
    """The preview, checked to be a complete PNG within the size limit."""
    assert result.preview_png is not None
    Image.open(io.BytesIO(result.preview_png)).verify()
    image = Image.open(io.BytesIO(result.preview_png))
    assert image.format == "PNG"
    assert max(image.size) <= PREVIEW_MAX_PX
    image.load()
    return image


def _assert_refused(result: ProcessingResult, code: str) -> None:
    assert not result.ok
    assert result.reason_code == code
    # Translated now, in the active language: a lazy string would be translated later, in
    # whatever language the worker happens to have active when the reason is shown or saved.
    assert type(result.reason) is str
    assert result.reason
    assert result.page_count is None
    assert result.preview_png is None


# --- PDF --------------------------------------------------------------------------------------


@pytest.mark.parametrize("storage", [None, InMemoryStorage()], ids=["filesystem", "in-memory"])
def test_a_pdf_has_its_page_count_and_a_preview_of_its_first_page(storage):
    # The file system hands PDFium a path; other backends a file object.
    name = _store(THREE_PAGES, "pdf", storage)

    result = inspect_stored(name, expected_extension="pdf", storage=storage)

    assert result == ProcessingResult(
        ok=True, extension="pdf", page_count=3, preview_png=result.preview_png
    )
    preview = _preview(result).convert("L")
    # A4 portrait scaled to 800 px high; the landscape second page would be 800 px wide.
    assert preview.size == (566, 800)
    assert preview.getpixel((10, 10)) < 50, "the black square of page 1"
    assert preview.getpixel((400, 600)) > 200


@pytest.mark.parametrize(
    ("size", "preview_size"),
    [((10, 5), (800, 400)), ((14400, 7200), (800, 400)), ((11, 5), (800, 364))],
    ids=["tiny", "huge", "rounding"],
)
def test_the_preview_is_scaled_to_the_limit_whatever_the_page_size(size, preview_size):
    # 800 / 11 * 11 is a hair above 800 in floating point, and the bitmap size is rounded up.
    result = _inspect(_pdf([(*size, b"")]), "pdf")

    assert result.ok, result.reason
    assert _preview(result).size == preview_size


@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.4\n" + bytes(range(256)) * 40,
        b"%PDF-1.7\n%%EOF\n",
        b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n",
        THREE_PAGES[: len(THREE_PAGES) // 2],
        _pdf([]),
    ],
    ids=["garbage", "header-only", "no-page-tree", "truncated", "no-pages"],
)
def test_a_damaged_pdf_is_refused_as_unreadable(content):
    result = _inspect(content, "pdf")

    _assert_refused(result, "unreadable")
    assert result.extension == "pdf"
    assert result.reason.startswith("The PDF file is damaged and cannot be opened.")


def test_a_pdf_that_needs_a_password_to_open_is_refused():
    result = _inspect(_encrypted(THREE_PAGES, user_password="secret"), "pdf")

    _assert_refused(result, "encrypted")
    assert "password" in result.reason


def test_a_pdf_with_only_an_owner_password_opens_and_is_accepted():
    # Permissions-only encryption (no password to open) is common on bank statements; a
    # handler can read them, so they pass.
    result = _inspect(_encrypted(THREE_PAGES, user_password=""), "pdf")

    assert result.ok, result.reason
    assert result.page_count == 3
    _preview(result)


def test_a_pdf_with_more_pages_than_the_limit_is_refused():
    too_many = _pdf([(*A4, b"")] * (processing.MAX_PAGES + 1))

    result = _inspect(too_many, "pdf")

    _assert_refused(result, "too_many_pages")
    assert result.reason == (
        "The PDF has 2001 pages, more than the 2000 accepted. Please split it into smaller files."
    )


def test_a_pdf_at_the_page_limit_is_accepted():
    result = _inspect(_pdf([(*A4, b"")] * processing.MAX_PAGES), "pdf")

    assert result.ok, result.reason
    assert result.page_count == processing.MAX_PAGES


def test_a_page_count_that_only_claims_to_be_huge_is_refused_without_rendering(monkeypatch):
    # PDFium believes /Count; refusing on it is the safe side and costs nothing.
    liar = THREE_PAGES.replace(b"/Count 3", b"/Count 1000000")
    monkeypatch.setattr(processing, "_render_first_page", lambda pdf: pytest.fail("rendered"))

    _assert_refused(_inspect(liar, "pdf"), "too_many_pages")


# --- Images -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "extension", "mode"),
    [("JPEG", "jpg", "RGB"), ("JPEG", "jpg", "CMYK"), ("PNG", "png", "RGB")]
    + [("PNG", "png", mode) for mode in ("RGBA", "P", "1", "L", "I;16")],
)
def test_an_image_has_one_page_and_a_scaled_preview(fmt, extension, mode):
    result = _inspect(_image(fmt, (3000, 2000), mode=mode), extension)

    assert result.ok, result.reason
    assert result.extension == extension
    assert result.page_count == 1
    preview = _preview(result).convert("L")
    assert preview.size == (800, 533)
    assert preview.getpixel((100, 266)) < 60
    assert preview.getpixel((700, 266)) > 200


def test_16_bit_greyscale_is_scaled_to_8_bits_not_clipped():
    grey = Image.new("I", (100, 100), 0x8080).convert("I;16")
    buffer = io.BytesIO()
    grey.save(buffer, "PNG")

    result = _inspect(buffer.getvalue(), "png")

    assert 120 < _preview(result).convert("L").getpixel((50, 50)) < 136


@pytest.mark.parametrize("mode", ["1", "P"])
def test_fine_lines_in_a_bilevel_or_palette_image_are_averaged_not_dropped(mode):
    # One-pixel stripes, like text in a fax-style scan: shrinking by picking pixels would show
    # only black or only white, and the writing would vanish from the preview.
    stripes = Image.new("L", (1600, 200), 255)
    stripes.paste(0, (0, 0, 1600, 200), mask=Image.frombytes("L", (1600, 200), b"\xff\0" * 160_000))
    buffer = io.BytesIO()
    stripes.convert(mode).save(buffer, "PNG")

    result = _inspect(buffer.getvalue(), "png")

    assert 80 < _preview(result).convert("L").getpixel((400, 50)) < 176


def test_a_small_image_is_not_enlarged():
    result = _inspect(_image("PNG", (40, 30)), "png")

    assert _preview(result).size == (40, 30)


@pytest.mark.parametrize(
    ("orientation", "dark_corner"),
    [(6, (0, 0)), (8, (0, 799))],
    ids=["rotate-90-cw", "rotate-90-ccw"],
)
def test_the_exif_orientation_of_a_photo_is_applied(orientation, dark_corner):
    # A phone stores a portrait photo as landscape pixels plus an orientation tag.
    result = _inspect(_image("JPEG", (1200, 900), orientation=orientation), "jpg")

    preview = _preview(result).convert("L")
    assert preview.size == (600, 800)
    assert preview.getpixel(dark_corner) < 60
    assert preview.getpixel((599 - dark_corner[0], 799 - dark_corner[1])) > 200


# Pillow warns at its open; the refusal is ours.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_decompression_bomb_png_is_refused_before_it_is_decoded():
    bomb = _png_bomb(10_000)  # 100 million pixels, 100 MB once decoded
    assert len(bomb) < MiB

    tracemalloc.start()
    try:
        result = _inspect(bomb, "png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    _assert_refused(result, "image_too_large")
    assert result.reason == (
        "The image is too large to process (100 megapixels, at most 89). "
        "Please upload it at a lower resolution."
    )
    assert peak < 10 * MiB, f"peak {peak} bytes"


def test_pillows_own_bomb_check_is_a_refusal_too(monkeypatch):
    # Should another library lower Pillow's process-wide limit below ours.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)

    result = _inspect(_image("PNG", (100, 100)), "png")

    _assert_refused(result, "image_too_large")


@pytest.fixture(params=[False, True], ids=["pillow-default", "after-weasyprint"])
def truncated_images_allowed(request, monkeypatch):
    """Also run with Pillow set to accept truncated images, as importing WeasyPrint does."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", request.param)
    yield
    assert request.param is ImageFile.LOAD_TRUNCATED_IMAGES, "the process-wide setting is kept"


@pytest.mark.usefixtures("truncated_images_allowed")
@pytest.mark.parametrize(("fmt", "extension"), [("PNG", "png"), ("JPEG", "jpg")])
def test_a_truncated_image_is_refused_as_unreadable(fmt, extension):
    # Noise does not compress, so half the file is half the pixel data.
    noisy = Image.frombytes("RGB", (300, 200), random.Random(0).randbytes(300 * 200 * 3))
    buffer = io.BytesIO()
    noisy.save(buffer, fmt)
    content = buffer.getvalue()

    result = _inspect(content[: len(content) // 2], extension)

    _assert_refused(result, "unreadable")
    assert result.extension == extension


@pytest.mark.usefixtures("truncated_images_allowed")
def test_a_png_with_a_bad_checksum_is_refused():
    content = bytearray(_image("PNG", (30, 20)))
    at = content.index(b"IDAT") + 10
    content[at] ^= 0xFF

    _assert_refused(_inspect(bytes(content), "png"), "unreadable")


# --- Word and Excel ---------------------------------------------------------------------------


def test_a_word_document_has_the_page_count_word_saved():
    result = _inspect(_docx(_app_xml("7")), "docx")

    assert result == ProcessingResult(ok=True, extension="docx", page_count=7, preview_png=None)


@pytest.mark.parametrize(
    "app_xml",
    [None, _app_xml(""), _app_xml("seven"), _app_xml("0"), "<Properties><Pages>3", "not xml"],
    ids=["no-app-xml", "empty-pages", "not-a-number", "zero", "cut-off", "not-xml"],
)
def test_a_word_document_without_a_usable_page_count_is_still_accepted(app_xml):
    result = _inspect(_docx(app_xml), "docx")

    assert result == ProcessingResult(ok=True, extension="docx", page_count=None, preview_png=None)


def test_a_dtd_in_a_word_property_part_is_not_expanded():
    app_xml = BILLION_LAUGHS + f'<Properties xmlns="{APP_NS}"><Pages>&lol9;</Pages></Properties>'

    result = _inspect(_docx(app_xml), "docx")

    assert result.ok
    assert result.page_count is None


def test_a_word_property_part_with_any_dtd_is_ignored():
    # Even a harmless entity: OOXML never declares one, so one is a sign of an attack.
    app_xml = f'<!DOCTYPE p [<!ENTITY n "4">]><Properties xmlns="{APP_NS}"><Pages>&n;</Pages>'

    result = _inspect(_docx(app_xml + "</Properties>"), "docx")

    assert result.ok
    assert result.page_count is None


def test_a_word_document_with_a_lower_case_properties_part_is_read():
    parts = {
        "[Content_Types].xml": CONTENT_TYPES,
        "word/document.xml": "<w:document/>",
        "DOCPROPS/APP.XML": _app_xml("2"),
    }

    result = _inspect(_zip(parts), "docx")

    assert result.page_count == 2


def test_a_workbook_counts_its_sheets():
    result = _inspect(_xlsx(_workbook(3)), "xlsx")

    assert result == ProcessingResult(ok=True, extension="xlsx", page_count=3, preview_png=None)


def test_a_workbook_without_sheets_is_refused():
    result = _inspect(_xlsx(_workbook(0)), "xlsx")

    _assert_refused(result, "empty")
    assert result.reason == "The workbook has no sheets."


def test_reading_a_workbook_stops_after_its_sheets():
    # Defined names after the sheet list can be large in real workbooks; they are never read,
    # which the cap would otherwise show by refusing this one.
    names = "".join(f'<definedName name="n{n}">S0!$A$1</definedName>' for n in range(40_000))
    workbook = _workbook(2, after=f"<definedNames>{names}</definedNames>")
    assert len(workbook) > processing.MAX_XML_BYTES

    result = _inspect(_xlsx(workbook), "xlsx")

    assert result.ok, result.reason
    assert result.page_count == 2


@pytest.mark.parametrize(
    "workbook",
    [
        _workbook(2, before=f"<!--{'x' * (1024 * 1024 + 10)}-->"),
        BILLION_LAUGHS + _workbook(1).split("?>", 1)[1].replace("S0", "&lol9;"),
        _workbook(2)[:-40],
        "<workbook><sheets><sheet></workbook>",
        '<!DOCTYPE w [<!ENTITY s "<sheet/>">]><workbook><sheets>&s;</sheets></workbook>',
    ],
    ids=["larger-than-the-cap", "billion-laughs", "cut-off", "malformed", "entity"],
)
def test_a_workbook_that_cannot_be_read_safely_is_refused(workbook):
    result = _inspect(_xlsx(workbook), "xlsx")

    _assert_refused(result, "unreadable")
    assert result.reason.startswith("The Excel (.xlsx) file is damaged")


def test_a_workbook_with_a_corrupted_part_is_refused():
    content = bytearray(_xlsx(_workbook(50)))
    # Flip a byte inside the compressed workbook part: the CRC check fails on reading.
    at = content.index(b"xl/workbook.xml") + len("xl/workbook.xml") + 20
    content[at] ^= 0xFF

    _assert_refused(_inspect(bytes(content), "xlsx"), "unreadable")


# --- Whatever is stored now, not what was uploaded --------------------------------------------


@pytest.mark.parametrize(
    ("upload", "extension"),
    [
        (THREE_PAGES, "pdf"),
        (_image("PNG", (20, 20)), "png"),
        (_docx(_app_xml("1")), "docx"),
        (_xlsx(_workbook(1)), "xlsx"),
    ],
)
def test_bytes_swapped_for_an_executable_after_storing_are_refused(settings, upload, extension):
    stored = store_upload(SimpleUploadedFile(f"doc.{extension}", upload), subdir="claims")
    assert inspect_stored(stored.name, expected_extension=extension).ok

    Path(settings.MEDIA_ROOT, stored.name).write_bytes(EXECUTABLE)
    with translation.override("en"):
        result = inspect_stored(stored.name, expected_extension=extension)

    _assert_refused(result, "type_mismatch")
    assert result.extension is None
    assert "Please upload it again." in result.reason


def test_another_accepted_type_where_a_pdf_was_stored_is_a_mismatch():
    name = _store(_image("PNG", (20, 20)), "pdf")

    with translation.override("en"):
        result = inspect_stored(name, expected_extension="pdf")

    _assert_refused(result, "type_mismatch")
    assert result.extension == "png"
    assert result.reason == (
        "The stored file is no longer the PDF document that was uploaded. Please upload it again."
    )


def test_a_word_document_swapped_for_one_with_macros_is_refused():
    name = _store(_docx(_app_xml("1"), **{"word/vbaProject.bin": b"\0macro"}), "docx")

    result = inspect_stored(name, expected_extension="docx")

    _assert_refused(result, "macros")


def test_an_emptied_file_is_refused():
    _assert_refused(_inspect(b"", "pdf"), "empty")


def test_a_missing_file_is_refused():
    result = inspect_stored("claims/evidence/gone.pdf", expected_extension="pdf")

    _assert_refused(result, "missing")


def test_an_extension_outside_the_accepted_types_is_a_programming_error():
    name = _store(THREE_PAGES, "pdf")

    with pytest.raises(ValueError, match="exe"):
        inspect_stored(name, expected_extension="exe")
