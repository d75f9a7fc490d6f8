"""`make bench`: the portal's pages under load, against the framework's ceiling.

1. Dataset: the PostgreSQL database ``portal_bench`` (created if missing; ``--rebuild`` drops it
   first) is migrated, seeded and filled by ``manage.py generate_bench_data``, which does nothing
   when the bench is already built.
2. Serve: gunicorn with the bench settings (scripts/bench/settings.py: DEBUG off, cached
   templates, whitenoise with collected static files) on a free loopback port, against that
   database and Redis.
3. Drive: one headless locust run per page, 20 users without pauses, each signed in through a
   session made here the way ``Client.force_login`` makes one (staff and officers have TOTP, so
   the MFA middleware lets them through). The minimal view runs first and again after every
   page, so that each page is compared with the minimal runs just before and after it: on a
   shared machine the speed drifts by a third within a few minutes, and a baseline taken only
   at the start and the end of the run let that drift into every page's ratio.
4. Report: requests/s, p50, p95, failures and the throughput as a share of the minimal view's,
   printed and written to var/bench/load.txt, load.json and load.csv.

Nothing here is part of the test suite. Run: ``make bench`` or
``.venv/bin/python scripts/bench/run.py --run-time 20 --pages minimal,dashboard``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "var" / "bench"
VENV = ROOT / ".venv" / "bin"
GOAL_RATIO = 0.30
GOAL_P95_MS = 200.0

# name, who is signed in, how the path is found (see pages()).
PAGES = [
    "minimal",
    "dashboard",
    "application_list",
    "application_detail",
    "questionnaire_step",
    "catalogue",
    "officer_queue",
    "admin_referrals",
    "api_applications",
    "api_policies",
    "api_claims",
    "api_officer_requests",
]


def environment(args) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        PORTAL_VAR_DIR=str(OUT / "var"),
        DJANGO_ENV="development",
        DJANGO_DEBUG="false",
        PYTHONPATH=str(ROOT),
    )
    return env


def manage(env, *command, settings="portal.settings"):
    started = time.monotonic()
    subprocess.run(
        [str(VENV / "python"), "manage.py", *command],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": settings},
        check=True,
    )
    return time.monotonic() - started


def drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def build(args, env) -> dict:
    timings = {}
    started = time.monotonic()
    # A dataset that can be rebuilt need not wait for each commit to reach the disk: the
    # migrations and seeds commit hundreds of times. The server below runs without this.
    env = {**env, "PGOPTIONS": "-c synchronous_commit=off"}
    if args.rebuild:
        drop_database(args.database_url)
    manage(env, "ensure_database")
    timings["migrate"] = manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "seed_demo")
    manage(env, "seed_catalogue")
    timings["generate"] = manage(env, "generate_bench_data", "--scale", str(args.scale))
    manage(env, "collectstatic", "--noinput", "-v", "0", settings="scripts.bench.settings")
    timings["dataset_total"] = time.monotonic() - started
    return timings


def pages(base_session_env) -> dict:
    """Each page's path and the session it is fetched with, from the bench database."""
    import django

    os.environ.update(base_session_env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "scripts.bench.settings"
    sys.path.insert(0, str(ROOT))
    django.setup()
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string

    from portal.models import User
    from underwriting import services
    from underwriting.models import Application

    engine = import_module(settings.SESSION_ENGINE)
    # The first backend that can load a user back from a session, as login() would record.
    backend = next(
        path
        for path in settings.AUTHENTICATION_BACKENDS
        if hasattr(import_string(path), "get_user")
    )

    def session(email: str) -> str:
        user = User.objects.get(email=email)
        store = engine.SessionStore()
        store[SESSION_KEY] = user._meta.pk.value_to_string(user)
        store[BACKEND_SESSION_KEY] = backend
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save()
        return store.session_key

    applicant = session("applicant-a@demo.example")
    officer = session("officer-wuxi@demo.example")
    underwriter = session("underwriter@demo.example")
    firm = User.objects.get(email="applicant-a@demo.example").memberships.get().firm
    mine = Application.objects.filter(firm=firm)
    detail = mine.filter(status="accepted").order_by("-created_at").first()
    draft = next(
        a
        for a in mine.filter(status="draft").order_by("-created_at")
        if "risk" in [s["key"] for s in services.application_steps(a)]
    )
    return {
        "cookie_name": settings.SESSION_COOKIE_NAME,
        "pages": {
            "minimal": {"path": "/bench/minimal/", "session": applicant},
            "dashboard": {"path": "/app/", "session": applicant},
            "application_list": {"path": "/app/applications/", "session": applicant},
            "application_detail": {"path": f"/app/applications/{detail.pk}/", "session": applicant},
            "questionnaire_step": {
                "path": f"/app/applications/{draft.pk}/step/risk/",
                "session": applicant,
            },
            "catalogue": {"path": "/products/", "session": None},
            "officer_queue": {"path": "/officer/requests/", "session": officer},
            "admin_referrals": {
                "path": "/admin/underwriting/application/?status__exact=referred",
                "session": underwriter,
            },
            "api_applications": {"path": "/api/v1/applications/", "session": applicant},
            "api_policies": {"path": "/api/v1/policies/", "session": applicant},
            "api_claims": {"path": "/api/v1/claims/", "session": applicant},
            "api_officer_requests": {"path": "/api/v1/officer/requests/", "session": officer},
        },
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, cookie: str | None) -> tuple[int, bytes]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def serve(env, port: int, workers: int, threads: int, worker_class: str) -> subprocess.Popen:
    log = open(OUT / "gunicorn.log", "w")  # noqa: SIM115 - closed with the process
    server = subprocess.Popen(
        [
            str(VENV / "gunicorn"),
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            *(["--threads", str(threads)] if worker_class == "gthread" else []),
            "--backlog",
            "256",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "scripts.bench.settings"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    for _ in range(120):
        try:
            if fetch(f"http://127.0.0.1:{port}/bench/minimal/", None)[0] == 200:
                return server
        except OSError:
            pass
        if server.poll() is not None:
            raise SystemExit("gunicorn stopped; see var/bench/gunicorn.log")
        time.sleep(0.5)
    raise SystemExit("gunicorn did not answer in 60 s; see var/bench/gunicorn.log")


def drive(env, port, name, args, run_time: int | None = None) -> dict:
    prefix = OUT / "locust" / name
    prefix.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(VENV / "locust"),
            "-f",
            str(ROOT / "scripts" / "bench" / "locustfile.py"),
            "--headless",
            "-u",
            str(args.users),
            "-r",
            str(args.users),
            "--run-time",
            f"{run_time or args.run_time}s",
            "--host",
            f"http://127.0.0.1:{port}",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--stop-timeout",
            "5",
        ],
        cwd=ROOT,
        env={**env, "BENCH_PAGE": name, "BENCH_CONFIG": str(OUT / "config.json")},
        check=False,
        stdout=subprocess.DEVNULL,
    )
    with open(f"{prefix}_stats.csv", encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return {
        "page": name,
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "rps": float(row["Requests/s"]),
        "p50_ms": float(row["50%"]),
        "p95_ms": float(row["95%"]),
    }


def _server(meta) -> str:
    if meta["worker_class"] == "gthread":
        return f"{meta['workers']}×{meta['threads']} gthread"
    return f"{meta['workers']} {meta['worker_class']}"


def report(results, minimal_rps, meta) -> str:
    lines = [
        f"Load benchmark {meta['finished']} · {meta['users']} users · {meta['run_time']} s a page"
        f" · gunicorn {_server(meta)} · minimal view {len(meta['minimal_runs'])} runs of "
        f"{meta['baseline_time']} s, {min(meta['minimal_runs']):.1f} to "
        f"{max(meta['minimal_runs']):.1f} req/s (mean {minimal_rps:.1f}); each page's ratio is "
        "taken against the mean of the minimal runs just before and after it",
        f"Goal: throughput ≥ {GOAL_RATIO:.0%} of the minimal view's and p95 < {GOAL_P95_MS:.0f} ms",
        "",
        f"{'page':<22}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'fail':>7}"
        f"{'base':>8}{'ratio':>8}  goal",
    ]
    for r in results:
        lines.append(
            f"{r['page']:<22}{r['rps']:>9.1f}{r['p50_ms']:>9.0f}{r['p95_ms']:>9.0f}"
            f"{r['failures']:>7}{r['baseline_rps']:>8.1f}{r['ratio']:>8.2f}  "
            f"{'met' if r['goal_met'] else 'NOT met'}"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the dataset")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--run-time", type=int, default=20, help="seconds per page")
    parser.add_argument(
        "--baseline-time", type=int, default=10, help="seconds per run of the minimal view"
    )
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker-class", default="sync", choices=["gthread", "sync"])
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated subset")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    env = environment(args)
    started = time.monotonic()
    timings = build(args, env)
    print(f"dataset ready in {timings['dataset_total']:.0f} s", flush=True)
    config = pages(env)
    (OUT / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    wanted = [p for p in args.pages.split(",") if p and p != "minimal"]
    port = free_port()
    server = serve(env, port, args.workers, args.threads, args.worker_class)
    try:
        cookie_name = config["cookie_name"]
        for name in ["minimal", *wanted]:
            page = config["pages"][name]
            cookie = f"{cookie_name}={page['session']}" if page["session"] else None
            status, _body = fetch(f"http://127.0.0.1:{port}{page['path']}", cookie)
            print(f"  preflight {name:<22} {page['path']} → HTTP {status}", flush=True)
            if status != 200:
                raise SystemExit(f"{name} answers HTTP {status}; see var/bench/gunicorn.log")
        minimal_runs = [drive(env, port, "minimal", args, args.baseline_time)]
        print(f"  minimal: {minimal_runs[-1]['rps']:.1f} req/s", flush=True)
        results = []
        for name in wanted:
            result = drive(env, port, name, args)
            minimal_runs.append(drive(env, port, "minimal", args, args.baseline_time))
            result["baseline_rps"] = (minimal_runs[-2]["rps"] + minimal_runs[-1]["rps"]) / 2
            print(
                f"  {name}: {result['rps']:.1f} req/s, p95 {result['p95_ms']:.0f} ms; "
                f"minimal after it {minimal_runs[-1]['rps']:.1f} req/s",
                flush=True,
            )
            results.append(result)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    minimal_rps = sum(r["rps"] for r in minimal_runs) / len(minimal_runs)
    minimal = dict(minimal_runs[0])
    for key in ("requests", "failures"):
        minimal[key] = sum(r[key] for r in minimal_runs)
    for key in ("rps", "p50_ms", "p95_ms"):
        minimal[key] = sum(r[key] for r in minimal_runs) / len(minimal_runs)
    minimal["baseline_rps"] = minimal_rps
    results.insert(0, minimal)
    for r in results:
        r["ratio"] = r["rps"] / r["baseline_rps"] if r["baseline_rps"] else 0.0
        r["goal_met"] = (
            r["failures"] == 0 and r["ratio"] >= GOAL_RATIO and r["p95_ms"] < GOAL_P95_MS
        )
        r["path"] = config["pages"][r["page"]]["path"]
    meta = {
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "users": args.users,
        "run_time": args.run_time,
        "workers": args.workers,
        "threads": args.threads,
        "worker_class": args.worker_class,
        "baseline_time": args.baseline_time,
        "minimal_runs": [r["rps"] for r in minimal_runs],
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "total_s": round(time.monotonic() - started, 1),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    text = report(results, minimal_rps, meta)
    text += (
        f"\nDataset {meta['timings_s']} s; whole run {meta['total_s']:.0f} s; "
        f"load average at the end {', '.join(f'{x:.1f}' for x in meta['load_average'])} "
        f"on {meta['cpus']} CPUs.\n"
    )
    print("\n" + text)
    (OUT / "load.txt").write_text(text, encoding="utf-8")
    (OUT / "load.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2), encoding="utf-8"
    )
    with open(OUT / "load.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(results[0]))
        writer.writeheader()
        writer.writerows(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
