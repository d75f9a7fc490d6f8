"""The upload checker: types decided by content, size caps, random names, nothing left behind on
refusal, and memory that does not grow with the file.

Message texts are checked in English so that they do not depend on the Chinese catalogue.
Every file is built here from its real signature; nothing is downloaded."""

import hashlib
import io
import re
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.utils import translation

from portal import uploads
from portal.uploads import ALLOWED_TYPES, UploadRejected, duplicate_of, store_upload

MiB = 1024 * 1024

# --- Tiny real files --------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


PNG = (
    b"\x89PNG\r\n\x1a\n"
    + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    + _png_chunk(b"IDAT", zlib.compress(b"\x00\x00"))
    + _png_chunk(b"IEND", b"")
)

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
)


def _zip(parts: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX_PARTS = {
    "[Content_Types].xml": CONTENT_TYPES,
    "_rels/.rels": "<Relationships/>",
    "word/document.xml": "<w:document/>",
}
XLSX_PARTS = {
    "[Content_Types].xml": CONTENT_TYPES,
    "_rels/.rels": "<Relationships/>",
    "xl/workbook.xml": "<workbook/>",
    "xl/worksheets/sheet1.xml": "<worksheet/>",
}
DOCX = _zip(DOCX_PARTS)
XLSX = _zip(XLSX_PARTS)


def _needs_a_newer_unzip(archive: bytes) -> bytes:
    # "Version needed to extract" of the first central directory entry, beyond zipfile's 6.3.
    at = archive.index(b"PK\x01\x02") + 6
    return archive[:at] + struct.pack("<H", 99) + archive[at + 2 :]


EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48) + b"PE\0\0"


def _upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def _temporary_upload(name: str, size: int, *, declared_size: int | None = None):
    """A PDF header followed by zeros, written to disk a MiB at a time as Django would have."""
    upload = TemporaryUploadedFile(name, "application/pdf", 0, None)
    upload.write(PDF)
    block = bytes(MiB)
    remaining = size - len(PDF)
    while remaining > 0:
        upload.write(block[: min(remaining, MiB)])
        remaining -= MiB
    upload.flush()
    upload.seek(0)
    upload.size = size if declared_size is None else declared_size
    return upload


def _stored_files(settings) -> list[Path]:
    return [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]


# --- Accepted types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "content", "extension", "content_type"),
    [
        ("report.pdf", PDF, "pdf", "application/pdf"),
        ("photo.jpg", JPEG, "jpg", "image/jpeg"),
        ("scan.png", PNG, "png", "image/png"),
        ("statement.docx", DOCX, "docx", ALLOWED_TYPES["docx"]),
        ("ledger.xlsx", XLSX, "xlsx", ALLOWED_TYPES["xlsx"]),
    ],
)
def test_each_allowed_type_is_stored_with_its_own_extension(
    settings, filename, content, extension, content_type
):
    stored = store_upload(_upload(filename, content), subdir="claims/evidence")

    assert stored.extension == extension
    assert stored.content_type == content_type
    assert stored.name.startswith("claims/evidence/")
    assert stored.name.endswith(f".{extension}")
    with default_storage.open(stored.name, "rb") as handle:
        assert handle.read() == content
    # A ZIP is first written under a provisional name; only the final file may remain.
    assert len(_stored_files(settings)) == 1


def test_the_content_decides_the_type_not_the_name():
    stored = store_upload(_upload("scan.pdf", PNG), subdir="claims")

    assert stored.extension == "png"
    assert stored.content_type == "image/png"
    assert stored.name.endswith(".png")


def test_a_header_that_arrives_in_small_pieces_is_still_recognised():
    class Trickle:
        name = "scan.png"
        size = len(PNG)

        def chunks(self):
            for start in range(0, len(PNG), 5):
                yield PNG[start : start + 5]

    stored = store_upload(Trickle(), subdir="claims")

    assert stored.extension == "png"
    assert stored.size == len(PNG)
    assert stored.sha256 == hashlib.sha256(PNG).hexdigest()


# --- Refused types ----------------------------------------------------------------------------

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>'
HTML = b"<!DOCTYPE html><html><script>alert(1)</script></html>"


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("claim.pdf", EXECUTABLE),
        ("photo.png", SVG),
        ("photo.jpg", HTML),
        ("scan.png", b"  <svg/>"),
        ("invoice.pdf", b"#!/bin/sh\nrm -rf /\n"),
        ("invoice.pdf", b"  %PDF-1.4 padded"),
        ("archive.docx", _zip({"readme.txt": "just a zip"})),
        (
            "slides.docx",
            _zip({"[Content_Types].xml": CONTENT_TYPES, "ppt/presentation.xml": "<p/>"}),
        ),
        ("statement.docx", _zip({"word/document.xml": "<w:document/>"})),
        ("both.docx", _zip(DOCX_PARTS | XLSX_PARTS)),
        ("truncated.docx", DOCX[:-30]),
        ("future.docx", _needs_a_newer_unzip(DOCX)),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)),
    ],
    ids=[
        "exe-as-pdf",
        "svg-as-png",
        "html-as-jpg",
        "svg-after-spaces",
        "script-as-pdf",
        "pdf-signature-not-at-start",
        "plain-zip",
        "pptx",
        "no-content-types",
        "docx-and-xlsx",
        "truncated-zip",
        "unsupported-zip-version",
        "ole-doc",
    ],
)
def test_other_content_is_refused_whatever_its_name(settings, filename, content):
    with translation.override("en"), pytest.raises(UploadRejected) as excinfo:
        store_upload(_upload(filename, content), subdir="claims")

    assert excinfo.value.code == "type"
    assert isinstance(excinfo.value, ValueError)
    assert "PDF, JPEG, PNG, Word (.docx) and Excel (.xlsx)" in str(excinfo.value)
    assert _stored_files(settings) == []


@pytest.mark.parametrize(
    "parts",
    [
        DOCX_PARTS | {"word/vbaProject.bin": b"\x00macro"},
        XLSX_PARTS | {"xl/vbaProject.bin": b"\x00macro"},
        DOCX_PARTS | {"WORD/VBAPROJECT.BIN": b"\x00macro"},
    ],
    ids=["docm-as-docx", "xlsm-as-xlsx", "upper-case"],
)
def test_office_documents_with_macros_are_refused_and_removed(settings, parts):
    with translation.override("en"), pytest.raises(UploadRejected) as excinfo:
        store_upload(_upload("statement.docx", _zip(parts)), subdir="claims")

    assert excinfo.value.code == "macros"
    assert "without macros" in excinfo.value.message
    assert _stored_files(settings) == []


def test_a_zip_whose_directory_is_too_large_to_read_safely_is_refused(settings, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_ZIP_DIRECTORY_BYTES", 50)

    with pytest.raises(UploadRejected) as excinfo:
        store_upload(_upload("statement.docx", DOCX), subdir="claims")

    assert excinfo.value.code == "type"
    assert _stored_files(settings) == []


def test_puremagic_must_agree_with_the_signature(monkeypatch):
    monkeypatch.setattr(uploads.puremagic, "magic_string", lambda head: [])

    with pytest.raises(UploadRejected) as excinfo:
        store_upload(_upload("report.pdf", PDF), subdir="claims")

    assert excinfo.value.code == "type"


def test_an_empty_file_is_refused(settings):
    with translation.override("en"), pytest.raises(UploadRejected) as excinfo:
        store_upload(_upload("empty.pdf", b""), subdir="claims")

    assert excinfo.value.code == "empty"
    assert str(excinfo.value) == "The file is empty."
    assert _stored_files(settings) == []


# --- Size caps --------------------------------------------------------------------------------


def test_a_25_mb_upload_is_refused_with_the_limit_and_leaves_nothing(settings):
    upload = _temporary_upload("large.pdf", 25 * MiB)
    try:
        with translation.override("en"), pytest.raises(UploadRejected) as excinfo:
            store_upload(upload, subdir="claims")
        position = upload.file.tell()
    finally:
        upload.close()

    assert excinfo.value.code == "too_large"
    assert str(excinfo.value) == "The file is larger than 20 MB."
    assert position == 0, "refused on the declared size before reading anything"
    assert _stored_files(settings) == []


def test_reading_stops_at_the_cap_when_the_declared_size_lies(settings):
    # The declared size passes the first check, so only the streamed count can stop it.
    upload = _temporary_upload("large.pdf", 3 * MiB, declared_size=100)
    try:
        with translation.override("en"), pytest.raises(UploadRejected) as excinfo:
            store_upload(upload, subdir="claims", max_bytes=MiB)
        position = upload.file.tell()
    finally:
        upload.close()

    assert excinfo.value.code == "too_large"
    assert str(excinfo.value) == "The file is larger than 1 MB."
    assert position <= MiB + 64 * 1024
    assert _stored_files(settings) == []


def test_a_file_exactly_at_the_cap_is_accepted():
    content = PDF + bytes(4096 - len(PDF))

    stored = store_upload(_upload("report.pdf", content), subdir="claims", max_bytes=4096)

    assert stored.size == 4096


def test_the_cap_comes_from_settings_when_not_given(settings):
    settings.CLAIM_UPLOAD_MAX_BYTES = 1000

    with translation.override("en"), pytest.raises(UploadRejected) as excinfo:
        store_upload(_upload("report.pdf", PDF + bytes(1000)), subdir="claims")

    assert str(excinfo.value) == "The file is larger than 1000 bytes."


# --- Names, hashes, memory --------------------------------------------------------------------


def test_stored_names_are_random_and_keep_nothing_of_the_original_name():
    original = "Claim form 2024 - ACME.pdf"

    first = store_upload(_upload(original, PDF), subdir="claims")
    second = store_upload(_upload(original, PDF), subdir="claims")

    assert first.name != second.name
    for stored in (first, second):
        basename = stored.name.rsplit("/", 1)[-1]
        assert re.fullmatch(r"[A-Za-z0-9_-]{24}\.pdf", basename)
        assert not {"claim", "form", "2024", "acme"} & set(re.split(r"\W+", basename.lower()))
        assert stored.original_name == original


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("C:\\Users\\li\\Desktop\\claim.pdf", "claim.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("invoice\u202efdp.exe.pdf", "invoicefdp.exe.pdf"),
        ("tab\there\n.pdf", "tabhere.pdf"),
        ("Cafe\u0301.pdf", "Café.pdf"),
    ],
)
def test_the_original_name_is_cleaned(given, kept):
    stored = store_upload(_upload(given, PDF), subdir="claims")

    assert stored.original_name == kept


def test_a_long_original_name_is_capped_and_keeps_its_extension():
    stored = store_upload(_upload("x" * 240 + ".pdf", PDF), subdir="claims")

    assert len(stored.original_name) == uploads.ORIGINAL_NAME_MAX_LENGTH
    assert stored.original_name.endswith("x.pdf")


def test_size_and_sha256_are_those_of_the_content():
    content = PDF + bytes(range(256)) * 1000

    stored = store_upload(_upload("report.pdf", content), subdir="claims")

    assert stored.size == len(content)
    assert stored.sha256 == hashlib.sha256(content).hexdigest()


def test_memory_stays_flat_while_storing_a_20_mb_file(settings):
    upload = _temporary_upload("large.pdf", 20 * MiB)
    expected = hashlib.sha256()
    for chunk in upload.chunks():
        expected.update(chunk)
    try:
        tracemalloc.start()
        try:
            stored = store_upload(upload, subdir="claims")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        upload.close()

    assert stored.size == 20 * MiB
    assert stored.sha256 == expected.hexdigest()
    assert Path(settings.MEDIA_ROOT, stored.name).stat().st_size == 20 * MiB
    assert peak < 2 * MiB, f"peak {peak} bytes"


class _ReadingStorage(InMemoryStorage):
    """A backend that pulls the content with read(), as S3 uploads do, instead of chunks()."""

    def _save(self, name, content):
        content.seek(0)
        pieces = []
        while piece := content.read(1000):
            pieces.append(piece)
        return super()._save(name, ContentFile(b"".join(pieces)))


@pytest.fixture
def reading_storage(settings):
    settings.STORAGES = settings.STORAGES | {"default": {"BACKEND": f"{__name__}._ReadingStorage"}}


def test_a_backend_that_reads_gets_the_same_checks(reading_storage):
    content = PDF + bytes(range(256)) * 20

    stored = store_upload(_upload("report.pdf", content), subdir="claims")
    with pytest.raises(UploadRejected):
        store_upload(_upload("report.pdf", content), subdir="claims", max_bytes=3000)

    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    with default_storage.open(stored.name, "rb") as handle:
        assert handle.read() == content
    assert default_storage.listdir("claims")[1] == [stored.name.rsplit("/", 1)[-1]]


# --- Duplicates -------------------------------------------------------------------------------


def test_duplicate_of_returns_the_first_row_with_that_hash():
    class Rows:
        def __init__(self, rows):
            self.rows = rows

        def filter(self, **lookups):
            return Rows([row for row in self.rows if all(row[k] == v for k, v in lookups.items())])

        def first(self):
            return self.rows[0] if self.rows else None

    digest = hashlib.sha256(PDF).hexdigest()
    rows = Rows(
        [{"id": 1, "sha256": "0" * 64}, {"id": 2, "sha256": digest}, {"id": 3, "sha256": digest}]
    )

    assert duplicate_of(digest, rows) == {"id": 2, "sha256": digest}
    assert duplicate_of("f" * 64, rows) is None
