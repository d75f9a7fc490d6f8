"""Memory and the size cap when the upload does not say how large it is.

tests/portal/test_uploads.py already covers a 20 MB TemporaryUploadedFile stored with flat
memory, a 25 MB one refused on its declared size before a byte is read, and a renamed Windows
executable. What it leaves out is the refusal that only the streamed count can make, at the
default cap: here a 25 MB upload with no size at all must be read up to 20 MB, written to storage
on the way, and then refused and removed, without memory growing with what was read."""

import tracemalloc
from pathlib import Path

import pytest
from django.utils import translation

from portal.uploads import UploadRejected, store_upload

MiB = 1024 * 1024
CHUNK = 64 * 1024
PDF_HEADER = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\n"


class _UnsizedUpload:
    """An upload with no ``size`` (a streamed request body, say): a PDF header, then zeros.

    Every chunk is a new object, as a file read gives, so that anything holding on to chunks
    shows in the traced memory; the test itself keeps none of them.
    """

    name = "large.pdf"

    def __init__(self, total: int):
        self.total = total
        self.yielded = 0

    def chunks(self):
        while self.yielded < self.total:
            size = min(CHUNK, self.total - self.yielded)
            chunk = PDF_HEADER + bytes(size - len(PDF_HEADER)) if not self.yielded else bytes(size)
            self.yielded += size
            yield chunk


def test_a_25_mb_upload_of_unknown_size_is_refused_at_20_mb_with_flat_memory(settings):
    upload = _UnsizedUpload(25 * MiB)
    assert not hasattr(upload, "size")

    tracemalloc.start()
    try:
        with translation.override("en"), pytest.raises(UploadRejected) as excinfo:
            store_upload(upload, subdir="claims")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert excinfo.value.code == "too_large"
    assert excinfo.value.message == "The file is larger than 20 MB."
    # It really was the streamed count that refused it: all of the first 20 MB was read, and
    # reading stopped at the first chunk past the cap, not at the end of the upload.
    assert 20 * MiB < upload.yielded <= 20 * MiB + CHUNK
    assert [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()] == []
    assert peak < 4 * MiB, f"peak {peak} bytes"
