"""The background re-check of a stored claim document: its type, its page count and a preview.

``portal.uploads`` only looks at the first bytes and the ZIP directory while the uploader waits.
This runs later (from a Celery task) on whatever the storage holds by then, and opens the
document for real. Hostile and broken files are expected here, so a refusal is a result rather
than an exception, and every reader gets a bounded amount of work and memory.

Nothing here touches the database: the caller decides what a result means for the claim.
"""

import contextlib
import io
import logging
import math
import threading
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from PIL import Image, ImageFile, ImageOps

from portal.uploads import ALLOWED_TYPES, UploadRejected, sniff_stored

logger = logging.getLogger(__name__)

PREVIEW_MAX_PX = 800

# A page tree can be made to claim any number of pages for a few bytes each; a claim document
# with more than this is either hostile or something a handler could not read anyway.
MAX_PAGES = 2000

# Pillow's own default (a quarter GiB as RGB), but checked here: Pillow's limit is one setting for
# the whole process that another library may change, and Pillow only refuses at twice this.
# A 600 dpi scan of an A3 page is about 70 million pixels.
MAX_IMAGE_PIXELS = 89_478_485

# OOXML property and workbook parts are a few KB; anything near this is not a real document.
MAX_XML_BYTES = 1024 * 1024

# PDFium is not thread-safe, not even across separate documents, and pypdfium2 does not lock
# for us; a threaded Celery pool or the development server could otherwise call it twice at once.
_PDFIUM_LOCK = threading.Lock()

_PDF_PASSWORD_ERRORS = {pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY}

_PILLOW_FORMATS = {"jpg": "JPEG", "png": "PNG"}

# WeasyPrint, which the worker also imports for letters, switches Pillow to accepting truncated
# images for the whole process; a half-received photo would then pass with a grey bottom half.
_PILLOW_STRICT_LOCK = threading.Lock()


@dataclass(frozen=True)
class ProcessingResult:
    ok: bool
    extension: str | None  # the type found in the stored bytes, when one of ALLOWED_TYPES
    page_count: int | None  # pages; sheets for a workbook; None when the document does not say
    preview_png: bytes | None  # first page, longest side <= PREVIEW_MAX_PX; None for docx/xlsx
    reason_code: str = ""  # when not ok, for programs
    reason: str = ""  # when not ok, translated and fit to show the uploader


def inspect_stored(name: str, *, expected_extension: str, storage=None) -> ProcessingResult:
    """Re-check the stored file ``name``, which was accepted as ``expected_extension``.

    Reason codes when not ok: "missing", "empty", "type_mismatch", "macros", "unreadable",
    "encrypted", "too_many_pages", "image_too_large". The reason is translated into the
    active language, so activate the uploader's language before calling this from a task.
    """
    if expected_extension not in ALLOWED_TYPES:
        raise ValueError(f"not an accepted extension: {expected_extension!r}")
    storage = default_storage if storage is None else storage
    try:
        try:
            extension = sniff_stored(storage, name)
        except UploadRejected as rejected:
            if rejected.code == "type":
                return _type_mismatch(expected_extension, found=None)
            return _refused(rejected.code, rejected.message)
        if extension != expected_extension:
            return _type_mismatch(expected_extension, found=extension)
        return _INSPECTORS[extension](storage, name, extension)
    except FileNotFoundError:
        # Deleted between the upload and this check (a withdrawn claim, say); other storage
        # errors are left to propagate so that the task can retry them.
        return _refused("missing", _("The file could not be found. Please upload it again."))


# --- PDF --------------------------------------------------------------------------------------


def _inspect_pdf(storage, name: str, extension: str) -> ProcessingResult:
    with _PDFIUM_LOCK, _pdf_source(storage, name) as source:
        try:
            pdf = pdfium.PdfDocument(source)
        except pdfium.PdfiumError as error:
            logger.info("PDF %s could not be opened: %s", name, error)
            if error.err_code in _PDF_PASSWORD_ERRORS:
                return _refused(
                    "encrypted",
                    _(
                        "The PDF is protected with a password. "
                        "Please upload a copy that opens without a password."
                    ),
                    extension,
                )
            return _unreadable(extension)
        try:
            page_count = len(pdf)
            if page_count > MAX_PAGES:
                return _refused(
                    "too_many_pages",
                    ngettext(
                        "The PDF has %(count)d page, more than the %(limit)d accepted. "
                        "Please split it into smaller files.",
                        "The PDF has %(count)d pages, more than the %(limit)d accepted. "
                        "Please split it into smaller files.",
                        page_count,
                    )
                    % {"count": page_count, "limit": MAX_PAGES},
                    extension,
                )
            preview = _render_first_page(pdf)
        except pdfium.PdfiumError as error:
            logger.info("PDF %s could not be rendered: %s", name, error)
            return _unreadable(extension)
        finally:
            pdf.close()
    if preview is None:
        return _unreadable(extension)
    return ProcessingResult(
        ok=True, extension=extension, page_count=page_count, preview_png=preview
    )


@contextlib.contextmanager
def _pdf_source(storage, name: str):
    # Given a path, PDFium reads only the objects it needs straight from the file; a file object
    # works too (any backend), at the cost of a Python call for every block PDFium reads.
    try:
        path = Path(storage.path(name))
    except NotImplementedError:
        path = None
    # InMemoryStorage answers path() with a path where nothing is.
    if path is not None and path.is_file():
        yield path
        return
    with storage.open(name, "rb") as handle:
        yield handle


def _render_first_page(pdf) -> bytes | None:
    page = pdf[0]
    try:
        longest = max(page.get_size())
        # A page box of zero or absurd size would give a scale that PDFium cannot render.
        if not (math.isfinite(longest) and longest > 0):
            return None
        # The bitmap is sized from the page box and this scale alone, never from the content,
        # so it stays within PREVIEW_MAX_PX² pixels whatever the page claims to hold.
        scale = PREVIEW_MAX_PX / longest
        # render() rounds the size up, and 800 / 11 * 11 comes out a hair above 800.
        while math.ceil(longest * scale) > PREVIEW_MAX_PX:
            scale = math.nextafter(scale, 0)
        # Forms are not initialised: their scripts and XFA have nothing to add to a preview.
        bitmap = page.render(scale=scale, may_draw_forms=False)
        try:
            # The image may share the bitmap's memory, so it is encoded before that is freed.
            return _png(bitmap.to_pil())
        finally:
            bitmap.close()
    finally:
        page.close()


# --- JPEG and PNG -----------------------------------------------------------------------------


def _inspect_image(storage, name: str, extension: str) -> ProcessingResult:
    with _strict_pillow(), storage.open(name, "rb") as handle:
        try:
            # Only the decoder for the sniffed type: Pillow would otherwise try each of its
            # plugins in turn on bytes that none of them was asked to trust.
            with Image.open(handle, formats=[_PILLOW_FORMATS[extension]]) as image:
                # Image.open reads only the header, so this refuses before any pixel is decoded.
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    return _image_too_large(width * height, extension)
                preview = _png(_image_preview(image))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # The warning only arrives as an exception where warnings are made errors.
            return _image_too_large(None, extension)
        except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as error:
            # Pillow reports broken files as any of these, depending on the decoder and where
            # the damage is.
            logger.info("Image %s could not be read: %s", name, error)
            return _unreadable(extension)
    return ProcessingResult(ok=True, extension=extension, page_count=1, preview_png=preview)


@contextlib.contextmanager
def _strict_pillow():
    # The setting is a module global that Pillow reads while decoding, so it can only be put
    # back for the duration. Another thread decoding in the meantime (WeasyPrint in a threaded
    # pool) would see it too; WeasyPrint skips an image that fails, so a letter could lose a
    # damaged picture, which is the lesser harm.
    with _PILLOW_STRICT_LOCK:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _image_preview(image: Image.Image) -> Image.Image:
    if image.mode in ("1", "P", "PA"):
        # Pillow resizes these with nearest-neighbour only, which makes scans and diagrams
        # unreadable; they are palette images, small enough to convert at full size.
        if image.mode == "1":
            image = image.convert("L")
        else:
            image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    # In place, so that a JPEG is decoded at a reduced scale (draft) and nothing is copied
    # at full size.
    image.thumbnail((PREVIEW_MAX_PX, PREVIEW_MAX_PX))
    # After the thumbnail: turning a small image is cheap, and a quarter turn keeps the
    # longest side.
    ImageOps.exif_transpose(image, in_place=True)
    return image


def _image_too_large(pixels: int | None, extension: str) -> ProcessingResult:
    limit = MAX_IMAGE_PIXELS // 1_000_000
    if pixels is None:
        message = _(
            "The image is too large to process (at most %(limit)d megapixels). "
            "Please upload it at a lower resolution."
        ) % {"limit": limit}
    else:
        message = _(
            "The image is too large to process (%(size)d megapixels, at most %(limit)d). "
            "Please upload it at a lower resolution."
        ) % {"size": pixels // 1_000_000, "limit": limit}
    return _refused("image_too_large", message, extension)


def _png(image: Image.Image) -> bytes:
    if image.mode == "I" or image.mode.startswith("I;16"):
        # 16-bit greyscale (scanners make it): Pillow's own conversion clips at 255 instead of
        # scaling, which would turn everything but the darkest tones white.
        image = image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    elif image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
        # CMYK JPEGs and the like: a preview needs no more than RGB.
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# --- Word and Excel ---------------------------------------------------------------------------


_ZIP_ERRORS = (
    zipfile.BadZipFile,  # also a CRC mismatch
    zipfile.LargeZipFile,
    NotImplementedError,  # an unsupported compression method
    zlib.error,
    EOFError,
    ValueError,
)


def _inspect_docx(storage, name: str, extension: str) -> ProcessingResult:
    pages = None
    with storage.open(name, "rb") as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                pages = _docx_pages(archive, name)
        except _ZIP_ERRORS as error:
            logger.info("Word document %s could not be read: %s", name, error)
            return _unreadable(extension)
    return ProcessingResult(ok=True, extension=extension, page_count=pages, preview_png=None)


def _docx_pages(archive: zipfile.ZipFile, name: str) -> int | None:
    # The page count Word (or LibreOffice) saved in the extended properties; documents made by
    # other programs often have none, and laying out the document to count is Word's job.
    member = _member(archive, "docprops/app.xml")
    if member is None:
        return None
    path: list[str] = []
    text: list[str] = []

    def start(element, attributes):
        path.append(_local_name(element))

    def end(element):
        if path == ["Properties", "Pages"]:
            raise _XmlDone
        path.pop()

    def characters(data):
        if path == ["Properties", "Pages"]:
            text.append(data)

    try:
        _parse_xml(archive, member, start, end, characters)
    except (_XmlRefused, expat.ExpatError) as error:
        # Optional metadata: a document is no less readable for a broken property part.
        logger.info("Ignoring the properties of Word document %s: %s", name, error)
        return None
    try:
        pages = int("".join(text).strip())
    except ValueError:
        return None
    return pages if pages > 0 else None


def _inspect_xlsx(storage, name: str, extension: str) -> ProcessingResult:
    with storage.open(name, "rb") as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                sheets = _xlsx_sheets(archive)
        except (*_ZIP_ERRORS, _XmlRefused, expat.ExpatError) as error:
            logger.info("Workbook %s could not be read: %s", name, error)
            return _unreadable(extension)
    if sheets == 0:
        # Excel itself refuses to open a workbook without a sheet.
        return _refused("empty", _("The workbook has no sheets."), extension)
    return ProcessingResult(ok=True, extension=extension, page_count=sheets, preview_png=None)


def _xlsx_sheets(archive: zipfile.ZipFile) -> int:
    member = _member(archive, "xl/workbook.xml")
    if member is None:
        raise _XmlRefused("no workbook part")
    path: list[str] = []
    count = 0

    def start(element, attributes):
        nonlocal count
        path.append(_local_name(element))
        if path == ["workbook", "sheets", "sheet"]:
            count += 1

    def end(element):
        # <sheets> comes before the defined names and the rest, which can be large: stop here.
        if path == ["workbook", "sheets"]:
            raise _XmlDone
        path.pop()

    _parse_xml(archive, member, start, end)
    return count


class _XmlDone(Exception):
    """Raised from a parser callback once the part has told us what we came for."""


class _XmlRefused(Exception):
    """The part is missing, too large, or declares a DTD."""


def _parse_xml(
    archive: zipfile.ZipFile,
    member: str,
    start: Callable,
    end: Callable,
    characters: Callable | None = None,
) -> None:
    # Expat directly rather than ElementTree: we need nothing kept in memory, we can stop
    # partway, and a DTD (which OOXML never has, and which is where entity expansion attacks
    # live) can be refused as soon as it is declared, whatever the encoding.
    parser = expat.ParserCreate(namespace_separator=" ")

    def refuse_dtd(*_args):
        raise _XmlRefused("declares a DTD")

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    if characters is not None:
        parser.CharacterDataHandler = characters
    # The sizes in the ZIP directory are the uploader's word; count what is really inflated.
    read = 0
    try:
        with archive.open(member) as part:
            while chunk := part.read(64 * 1024):
                read += len(chunk)
                if read > MAX_XML_BYTES:
                    raise _XmlRefused(f"{member} is larger than {MAX_XML_BYTES} bytes")
                parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except _XmlDone:
        pass


def _member(archive: zipfile.ZipFile, lower_name: str) -> str | None:
    # Part names in an OOXML package are case-insensitive, and the upload check reads them so.
    for member in archive.namelist():
        if member.lower() == lower_name:
            return member
    return None


def _local_name(element: str) -> str:
    # Transitional and Strict OOXML use different namespaces for the same elements.
    return element.rsplit(" ", 1)[-1]


_INSPECTORS = {
    "pdf": _inspect_pdf,
    "jpg": _inspect_image,
    "png": _inspect_image,
    "docx": _inspect_docx,
    "xlsx": _inspect_xlsx,
}


# --- Refusals ---------------------------------------------------------------------------------


def _refused(code: str, message: str, extension: str | None = None) -> ProcessingResult:
    return ProcessingResult(
        ok=False,
        extension=extension,
        page_count=None,
        preview_png=None,
        reason_code=code,
        reason=message,
    )


def _type_mismatch(expected: str, *, found: str | None) -> ProcessingResult:
    return _refused(
        "type_mismatch",
        _(
            "The stored file is no longer the %(kind)s document that was uploaded. "
            "Please upload it again."
        )
        % {"kind": _kind(expected)},
        found,
    )


def _unreadable(extension: str) -> ProcessingResult:
    return _refused(
        "unreadable",
        _(
            "The %(kind)s file is damaged and cannot be opened. "
            "Please check that it opens on your computer and upload it again."
        )
        % {"kind": _kind(extension)},
        extension,
    )


def _kind(extension: str) -> str:
    return {
        "pdf": _("PDF"),
        "jpg": _("JPEG"),
        "png": _("PNG"),
        "docx": _("Word (.docx)"),
        "xlsx": _("Excel (.xlsx)"),
    }[extension]
