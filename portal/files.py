"""Serving private files: uploads, previews, letters and exports.

Every response is streamed, carries the type recorded for the file (never one guessed from its
name), forbids sniffing and caching, and is sandboxed, so nothing in a served file can run or
load anything even if a browser opened it inline. Callers check permission first.
"""

import io

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404


def _secured(response: FileResponse) -> FileResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def stored_file_response(
    name: str, *, filename: str, content_type: str, attachment: bool = True
) -> FileResponse:
    """The stored file ``name``; 404 when it is missing."""
    if not name:
        raise Http404
    try:
        handle = default_storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    return _secured(
        FileResponse(
            handle,
            as_attachment=attachment,
            filename=filename,
            content_type=content_type or "application/octet-stream",
        )
    )


def bytes_download(content: bytes, *, filename: str, content_type: str) -> FileResponse:
    """Generated content (an export) as a download."""
    return _secured(
        FileResponse(
            io.BytesIO(content), as_attachment=True, filename=filename, content_type=content_type
        )
    )
