"""Checking and storing uploaded claim and subsidy documents.

The type of a file is decided from its bytes, never from its name or the browser's
Content-Type, both of which the uploader controls. Stored names are random so that nothing the
uploader chose ends up in a path.
"""

import hashlib
import io
import logging
import posixpath
import secrets
import struct
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from types import MappingProxyType

import puremagic
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
ORIGINAL_NAME_MAX_LENGTH = 200

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Extension of the stored file → the content type it is served with. Read-only because callers
# build form hints from it, and a caller adding a type here would silently widen every upload.
ALLOWED_TYPES = MappingProxyType(
    {
        "pdf": "application/pdf",
        "jpg": "image/jpeg",
        "png": "image/png",
        "docx": DOCX_TYPE,
        "xlsx": XLSX_TYPE,
    }
)

# zipfile reads the whole central directory into memory before we can look at a single name,
# so a crafted archive of tiny entries could cost far more memory than its size on disk.
# Real documents of up to 20 MB have a directory of a few tens of KB.
MAX_ZIP_DIRECTORY_BYTES = 1024 * 1024

# Enough for every signature below and for puremagic's view of the same types; a first chunk
# shorter than this (a slow stream) is topped up from the next ones before we decide.
_SNIFF_BYTES = 1024
_ZIP_SIGNATURE = b"PK\x03\x04"
_EOCD_SIGNATURE = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_LOCATOR_SIZE = 20


class UploadRejected(ValueError):
    """The upload is not accepted; ``message`` is translated and can be shown to the uploader."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StoredUpload:
    name: str  # the storage name, under the caller's subdir
    size: int
    sha256: str
    content_type: str
    extension: str
    original_name: str  # for display only: never use it to build a path


def store_upload(uploaded_file, *, subdir: str, max_bytes: int | None = None) -> StoredUpload:
    """Check ``uploaded_file`` and save it to the default storage under ``subdir``.

    Raises ``UploadRejected`` (nothing is left in storage) when the file is empty, larger than
    ``max_bytes`` (default ``settings.CLAIM_UPLOAD_MAX_BYTES``) or not one of ``ALLOWED_TYPES``.
    """
    if max_bytes is None:
        max_bytes = getattr(settings, "CLAIM_UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES)
    # The size Django's upload handler counted is cheap to trust for a first refusal; the
    # stream below still counts for itself, since a caller may hand in any UploadedFile.
    declared = getattr(uploaded_file, "size", None)
    if declared is not None and declared > max_bytes:
        raise _too_large(max_bytes)

    stream = _MeteredStream(uploaded_file.chunks(), max_bytes)
    head = stream.peek(_SNIFF_BYTES)
    if not head:
        raise _empty()
    extension = _sniff(head)

    storage = default_storage
    # A ZIP is stored as .zip until opening it tells a workbook from a Word document.
    random_name = f"{secrets.token_urlsafe(18)}.{extension or 'zip'}"
    name = posixpath.join(subdir.strip("/"), random_name)
    try:
        name = storage.save(name, stream)
        if extension is None:
            extension = _check_office_document(storage, name)
            name = _rename(storage, name, extension)
    except BaseException:
        # A refusal halfway through the stream, a failed OOXML check or a full disk all leave
        # a partial or unwanted file behind, which nobody would ever serve or clean up.
        _discard(storage, name)
        raise

    return StoredUpload(
        name=name,
        size=stream.bytes_read,
        sha256=stream.sha256.hexdigest(),
        content_type=ALLOWED_TYPES[extension],
        extension=extension,
        original_name=_clean_original_name(getattr(uploaded_file, "name", "") or ""),
    )


def sniff_stored(storage, name: str) -> str:
    """The extension of the stored file ``name``, decided from its bytes as ``store_upload`` does.

    Raises ``UploadRejected`` with the codes ``store_upload`` uses ("empty", "type", "macros").
    """
    head = b""
    with storage.open(name, "rb") as handle:
        # A backend's file object may hand back less than asked for before the end of the file.
        while len(head) < _SNIFF_BYTES and (piece := handle.read(_SNIFF_BYTES - len(head))):
            head += piece
    if not head:
        raise _empty()
    extension = _sniff(head)
    if extension is None:
        extension = _check_office_document(storage, name)
    return extension


def duplicate_of(sha256: str, queryset):
    """The first row of ``queryset`` whose ``sha256`` field equals ``sha256``, or None."""
    return queryset.filter(sha256=sha256).first()


class _MeteredStream(File):
    """What the storage backend reads: the upload's bytes, hashed, counted and capped in passing.

    It deliberately has no ``temporary_file_path``: FileSystemStorage would otherwise move the
    temporary file into place without reading it, bypassing the cap and the hash.
    """

    def __init__(self, chunks: Iterator[bytes], max_bytes: int):
        super().__init__(None, name="upload")
        self._chunks = iter(chunks)
        self._max_bytes = max_bytes
        self._buffer = bytearray()
        self._consumed = False
        self.bytes_read = 0
        self.sha256 = hashlib.sha256()

    def _pull(self) -> bytes | None:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            return None
        self.bytes_read += len(chunk)
        # Checked before the bytes go anywhere, so that reading stops at the first chunk past
        # the cap rather than after the whole upload has been copied to storage.
        if self.bytes_read > self._max_bytes:
            raise _too_large(self._max_bytes)
        self.sha256.update(chunk)
        return chunk

    def peek(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self._pull()
            if chunk is None:
                break
            self._buffer += chunk
        return bytes(self._buffer[:size])

    def chunks(self, chunk_size=None):
        self._consumed = True
        if self._buffer:
            yield bytes(self._buffer)
            self._buffer.clear()
        while (chunk := self._pull()) is not None:
            yield chunk

    def read(self, size=-1):
        # For backends that read() rather than iterate chunks() (S3 through boto3, say). Reading
        # it all at once would hold up to the whole cap in memory, so that is refused loudly.
        if size is None or size < 0:
            raise io.UnsupportedOperation("read an upload stream in pieces")
        self._consumed = True
        while len(self._buffer) < size:
            chunk = self._pull()
            if chunk is None:
                break
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def seek(self, offset, whence=io.SEEK_SET):
        # Backends rewind before reading; that is harmless at the start and impossible later.
        if offset == 0 and whence == io.SEEK_SET and not self._consumed:
            return 0
        raise io.UnsupportedOperation("an upload stream can only be read once")

    def tell(self):
        raise io.UnsupportedOperation("an upload stream has no position")

    # File derives these from the wrapped file object, which this stream does not have; upload
    # libraries ask them to choose between seeking and plain sequential reads.
    @property
    def closed(self):
        return False

    def readable(self):
        return True

    def seekable(self):
        return False

    def close(self):
        pass


def _sniff(head: bytes) -> str | None:
    """The extension for ``head``, or None when it is a ZIP that must be opened to tell."""
    if head.startswith(b"%PDF-"):
        extension, candidates = "pdf", {"pdf"}
    elif head.startswith(b"\xff\xd8\xff"):
        extension, candidates = "jpg", {"jpg"}
    elif head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        extension, candidates = "png", {"png"}
    elif head.startswith(_ZIP_SIGNATURE):
        extension, candidates = None, {"docx", "xlsx"}
    else:
        # Executables, HTML, SVG, scripts and everything else: anything a browser or a desktop
        # could run or render as active content is outside this list by construction.
        raise _wrong_type()
    # A second, independent table of signatures: if it does not see the same type in these
    # bytes, our own check has a gap and refusing is the safe side.
    try:
        seen = {match.mime_type for match in puremagic.magic_string(head)}
    except (puremagic.PureError, ValueError):
        seen = set()
    if not seen & {ALLOWED_TYPES[extension] for extension in candidates}:
        raise _wrong_type()
    return extension


def _check_office_document(storage, name: str) -> str:
    """'docx' or 'xlsx' for a stored ZIP that is one of them without macros; else rejects.

    Only the archive's directory is read: nothing is decompressed, so a ZIP bomb costs nothing.
    """
    with storage.open(name, "rb") as handle:
        _check_zip_directory_size(handle)
        try:
            with zipfile.ZipFile(handle) as archive:
                names = {entry.lower() for entry in archive.namelist()}
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            NotImplementedError,
            ValueError,
            EOFError,
        ):
            raise _wrong_type() from None
    if "[content_types].xml" not in names:
        raise _wrong_type()
    if any(entry.rsplit("/", 1)[-1] == "vbaproject.bin" for entry in names):
        raise UploadRejected(
            "macros",
            _(
                "Documents with macros are not accepted. "
                "Save it as a .docx or .xlsx file without macros."
            ),
        )
    kinds = [
        extension
        for extension, main_part in (("docx", "word/document.xml"), ("xlsx", "xl/workbook.xml"))
        if main_part in names
    ]
    # Neither is some other ZIP (or a presentation); both would leave us guessing which
    # application opens it.
    if len(kinds) != 1:
        raise _wrong_type()
    return kinds[0]


def _check_zip_directory_size(handle) -> None:
    handle.seek(0, io.SEEK_END)
    file_size = handle.tell()
    tail_size = min(file_size, _EOCD_SIZE + 0xFFFF)
    handle.seek(file_size - tail_size)
    tail = handle.read(tail_size)
    # The same search zipfile makes, so that we look at the record it will use: the last 22
    # bytes when there is no archive comment, else the last signature before the comment.
    if tail[-_EOCD_SIZE:].startswith(_EOCD_SIGNATURE) and tail.endswith(b"\0\0"):
        at = len(tail) - _EOCD_SIZE
    else:
        at = tail.rfind(_EOCD_SIGNATURE)
    if at < 0 or len(tail) - at < _EOCD_SIZE:
        raise _wrong_type()
    # Zip64 is only needed past 65,535 entries or 4 GB, never by a document under the cap,
    # and its record would carry sizes that the one we check below does not.
    locator_at = at - _ZIP64_LOCATOR_SIZE
    if locator_at >= 0 and tail[locator_at:].startswith(_ZIP64_LOCATOR_SIGNATURE):
        raise _wrong_type()
    (directory_size,) = struct.unpack_from("<I", tail, at + 12)
    if directory_size > MAX_ZIP_DIRECTORY_BYTES:
        raise _wrong_type()
    handle.seek(0)


def _rename(storage, name: str, extension: str) -> str:
    # The stored extension decides how the file is served later, and for a ZIP it is only known
    # once the archive has been read; storage APIs have no rename, so copy within the backend.
    wanted = f"{name.rsplit('.', 1)[0]}.{extension}"
    with storage.open(name, "rb") as handle:
        try:
            final = storage.save(wanted, File(handle))
        except BaseException:
            _discard(storage, wanted)
            raise
    # Past this point the document is stored and checked; a leftover .zip copy is only clutter.
    _discard(storage, name)
    return final


def _discard(storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:
        # Clean-up is best effort: its failure must neither hide why an upload was refused nor
        # fail one that is already stored; the log says which file was left behind.
        logger.warning("Could not delete upload file %s", name, exc_info=True)


def _clean_original_name(raw: str) -> str:
    # Browsers on Windows have sent the full client path, and macOS sends decomposed accents.
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    # Control and format characters (a right-to-left override turns "cod.exe" into "exe.doc"
    # on screen) have no business in a name shown to staff.
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    name = name.strip(" .")
    if len(name) > ORIGINAL_NAME_MAX_LENGTH:
        stem, dot, suffix = name.rpartition(".")
        if dot and len(suffix) <= 10:
            name = f"{stem[: ORIGINAL_NAME_MAX_LENGTH - len(suffix) - 1]}.{suffix}"
        else:
            name = name[:ORIGINAL_NAME_MAX_LENGTH]
    return name


def _too_large(max_bytes: int) -> UploadRejected:
    return UploadRejected(
        "too_large", _("The file is larger than %(limit)s.") % {"limit": _size_text(max_bytes)}
    )


def _empty() -> UploadRejected:
    return UploadRejected("empty", _("The file is empty."))


def _wrong_type() -> UploadRejected:
    return UploadRejected(
        "type",
        _("Only PDF, JPEG, PNG, Word (.docx) and Excel (.xlsx) files are accepted."),
    )


def _size_text(size: int) -> str:
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return ngettext("%(count)d byte", "%(count)d bytes", size) % {"count": size}
