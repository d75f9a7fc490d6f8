"""Where a benchmarked page spends its time: each page of var/bench/config.json (written by
run.py) fetched in process against the bench database, with its query count, the time in SQL
and the slowest statements. Run after `make bench`:
``.venv/bin/python scripts/bench/profile_pages.py [page ...]``."""

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("PORTAL_VAR_DIR", str(ROOT / "var" / "bench" / "var"))
os.environ["DJANGO_SETTINGS_MODULE"] = "scripts.bench.settings"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

config = json.loads((ROOT / "var" / "bench" / "config.json").read_text(encoding="utf-8"))
wanted = sys.argv[1:] or list(config["pages"])
for name in wanted:
    page = config["pages"][name]
    client = Client(HTTP_HOST="127.0.0.1")
    if page["session"]:
        client.cookies[config["cookie_name"]] = page["session"]
    client.get(page["path"])  # warm: templates, translations
    times = []
    for _ in range(5):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(page["path"])
            times.append((time.perf_counter() - started) * 1000)
    sql_ms = sum(float(q["time"]) for q in queries.captured_queries) * 1000
    print(
        f"{name:<22} HTTP {response.status_code} {sorted(times)[2]:7.1f} ms "
        f"{len(queries.captured_queries):4d} queries {sql_ms:7.1f} ms in SQL "
        f"{len(response.content) / 1024:6.0f} KiB"
    )
    for query in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:3]:
        print(f"    {float(query['time']) * 1000:7.1f} ms  {query['sql'][:300]}")
