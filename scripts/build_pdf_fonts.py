"""Build the light CJK faces of the PDF documents ahead of time (a deploy or image-build step).

Without this the first document a process renders builds them (about 4 s a face), writing to
``settings.VAR_DIR / "fonts"``. Run: ``.venv/bin/python scripts/build_pdf_fonts.py``.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from underwriting.documents import pdf_fonts  # noqa: E402

started = time.perf_counter()
faces = pdf_fonts()
if not faces:
    print("No Noto Sans CJK found: PDF documents will use the system fonts (slower).")
for weight, path in faces.items():
    print(f"{weight}: {path} ({path.stat().st_size / 1e6:.2f} MB)")
print(f"{time.perf_counter() - started:.1f} s")
