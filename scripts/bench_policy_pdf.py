"""Benchmark the policy schedule PDF: our light CJK face against a naive WeasyPrint render.

A throwaway SQLite database and var folder in a temporary directory get the PAT-ENF catalogue
and one realistic policy built through the services (a firm, a user, a granted patent, the
advance-of-costs rider, a special exclusion, four instalments, the acknowledgement and the first
payment). The schedule is then rendered ``--runs`` times per approach, interleaved, after one
untimed warm-up each (reported as "first"):

- ours: ``documents.render_policy_pdf(policy)``, the light face cut out of Noto Sans CJK;
- naive: ``render_policy_pdf(policy, subset_fonts=False)``, the same document set in the full
  system Noto Sans CJK collection, as a plain WeasyPrint setup would.

WeasyPrint subsets every embedded font with HarfBuzz's subsetter when ``libharfbuzz-subset0``
is installed and falls back to fontTools otherwise; that changes the naive figure by an order of
magnitude, so the report says which one ran. ``--fonttools`` measures both approaches a second
time with the fontTools fallback forced (a machine without the library).

Nothing is timed in the test suite: this is where speed is measured. Results are printed and
written to ``var/bench/policy_pdf.txt``.

Run: ``make bench-pdf`` or ``.venv/bin/python scripts/bench_policy_pdf.py --runs 7``.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPECIAL_EXCLUSION = {
    "title": {"zh": "美国境内诉讼不保", "en": "No cover for litigation in the United States"},
    "text": {
        "zh": "在美利坚合众国境内提起或应诉的诉讼所产生的费用，保险人不负责赔偿。",
        "en": "Costs of proceedings brought or defended in the United States are not paid.",
    },
    "explanation": {
        "zh": "贵公司有对美销售，美国诉讼费用不在本保险范围内。",
        "en": "Your firm sells to the US; US litigation costs are outside this cover.",
    },
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", type=int, default=7, help="timed renders per approach (default 7)"
    )
    parser.add_argument(
        "--fonttools",
        action="store_true",
        help="also measure both approaches with WeasyPrint's fontTools subsetting forced",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "var" / "bench" / "policy_pdf.txt",
        help="where to write the report (default var/bench/policy_pdf.txt)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (database and PDFs)"
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def isolate(tmp: Path) -> Path:
    """Point the settings at the temporary folder before Django starts; returns the var folder
    whose font cache we may reuse (the one the project would use without this script)."""
    configured_var = Path(os.environ.get("PORTAL_VAR_DIR") or ROOT / "var")
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["DJANGO_ENV"] = "test"
    os.environ["PORTAL_VAR_DIR"] = str(tmp)
    os.environ["PORTAL_MEDIA_ROOT"] = str(tmp / "private")
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The filesystem broker inside the temporary folder: queued tasks are written, never run.
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    return configured_var


def copy_fonts(source: Path, target: Path) -> list[str]:
    """Copy the light faces (content-addressed names) that ``target`` lacks; atomic per file."""
    copied = []
    if not source.is_dir():
        return copied
    target.mkdir(parents=True, exist_ok=True)
    for face in source.glob("portal-cjk-sc-*.otf"):
        if (target / face.name).is_file():
            continue
        partial = target / f".{face.name}.copy"
        shutil.copy2(face, partial)
        os.replace(partial, target / face.name)
        copied.append(face.name)
    return copied


def harfbuzz_info() -> tuple[bool, str]:
    from weasyprint.text import ffi

    try:
        library = ctypes.CDLL("libharfbuzz.so.0")
        library.hb_version_string.restype = ctypes.c_char_p
        version = library.hb_version_string().decode()
    except (OSError, AttributeError):
        version = "unknown version"
    usable = ffi.harfbuzz_subset is not None and ffi.harfbuzz.hb_version_atleast(4, 1, 0)
    return bool(usable), version


def build_policy():
    """One policy through the services, as an applicant and the sandbox provider would."""
    from django.core.management import call_command

    from portal.choices import FirmSize, Industry, MembershipRole
    from portal.models import Firm, Membership, User
    from tests.factories import make_uscc
    from tests.underwriting.application_helpers import (
        acknowledge,
        filled_application,
        granted_patent,
    )
    from underwriting import services
    from underwriting.choices import PaymentMethod, QuoteStatus
    from underwriting.models import Policy, Product, Quote

    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_catalogue", only=["PAT-ENF"], verbosity=0, stdout=io.StringIO())
    Product.objects.filter(code="PAT-ENF", max_instalments__lt=4).update(max_instalments=4)

    firm = Firm.objects.create(
        name_zh="无锡芯视界智能科技有限公司",
        name_en="Wuxi Xinshijie Intelligent Technology Co., Ltd.",
        uscc=make_uscc(4711),
        address="江苏省无锡市新吴区长江路 7 号 A 座 1201 室",
        region_code="320214",
        industry=Industry.ELECTRONIC_INFORMATION,
        size=FirmSize.SMALL,
    )
    user = User.objects.create_user(
        email="wang.xiaoming@example.test", password=None, full_name="王晓明"
    )
    Membership.objects.create(user=user, firm=firm, role=MembershipRole.OWNER)
    patent = granted_patent(firm, title="一种基于深度学习的晶圆表面缺陷图像识别方法及系统")

    application = filled_application(firm, user, assets=[patent], riders=["R-ADVANCE"])
    services.application_submit(application=application, actor=user, declaration=True)
    quote = application.quotes.get(status=QuoteStatus.OFFERED)
    Quote.objects.filter(pk=quote.pk).update(special_exclusions=[SPECIAL_EXCLUSION])
    quote.refresh_from_db()
    policy = acknowledge(quote, user, seconds_read=184, instalments=4)
    services.payment_record(
        policy=policy,
        actor=None,
        amount=policy.instalments.order_by("sequence").first().amount,
        reference="SANDBOX-BENCH-1",
        method=PaymentMethod.SANDBOX,
    )
    from underwriting.documents import POLICY_RELATED

    return Policy.objects.select_related(*POLICY_RELATED).get(pk=policy.pk)


def measure(approaches: dict, runs: int) -> dict:
    """Each approach once untimed (its first render in this process), then ``runs`` times,
    interleaved and in alternating order (A B, B A, …) so that drift of the machine and the
    order of the renders hit every approach alike."""
    results = {}
    for name, render in approaches.items():
        started = time.perf_counter()
        pdf = render()
        results[name] = {"first": time.perf_counter() - started, "times": [], "pdf": pdf}
    for round_number in range(runs):
        order = list(approaches.items())
        if round_number % 2:
            order.reverse()
        for name, render in order:
            started = time.perf_counter()
            pdf = render()
            results[name]["times"].append(time.perf_counter() - started)
            results[name]["pdf"] = pdf
    return results


def page_count(pdf: bytes) -> str:
    try:
        from io import BytesIO

        import pypdf
    except ImportError:
        return "?"
    return str(len(pypdf.PdfReader(BytesIO(pdf)).pages))


def table(results: dict, labels: dict) -> list[str]:
    lines = [
        f"{'approach':<44} {'median':>8} {'min':>8} {'first':>8} {'PDF size':>10} {'pages':>6}"
    ]
    for name, row in results.items():
        lines.append(
            f"{labels[name]:<44} {statistics.median(row['times']):>7.3f}s "
            f"{min(row['times']):>7.3f}s {row['first']:>7.3f}s "
            f"{len(row['pdf']) / 1024:>7.0f} KB {page_count(row['pdf']):>6}"
        )
    ours, naive = results["ours"], results["naive"]
    lines.append(
        "ratio naive/ours: "
        f"{statistics.median(naive['times']) / statistics.median(ours['times']):.1f}x (medians), "
        f"{min(naive['times']) / min(ours['times']):.1f}x (minimums), "
        f"{len(naive['pdf']) / len(ours['pdf']):.1f}x (PDF size)"
    )
    return lines


def main() -> int:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-policy-pdf-"))
    configured_var = isolate(tmp)
    try:
        import django

        django.setup()
        import logging

        import weasyprint
        from weasyprint.pdf import fonts as weasyprint_fonts

        from underwriting import documents

        # The fontTools fallback logs a warning per font and document; kombu one per enqueue
        # on the filesystem broker.
        for name in ("weasyprint", "kombu"):
            logging.getLogger(name).setLevel(logging.ERROR)

        reused = copy_fonts(configured_var / "fonts", tmp / "fonts")
        started = time.perf_counter()
        faces = documents.pdf_fonts()
        font_seconds = time.perf_counter() - started
        built = [path.name for path in faces.values() if path.name not in reused]
        if built:
            copy_fonts(tmp / "fonts", configured_var / "fonts")  # cache for the next run

        setup_started = time.perf_counter()
        policy = build_policy()
        setup_seconds = time.perf_counter() - setup_started
        exclusions = policy.terms.get("exclusions") or []
        specials = sum(1 for item in exclusions if item.get("key", "").startswith("special-"))

        harfbuzz, harfbuzz_version = harfbuzz_info()
        approaches = {
            "ours": lambda: documents.render_policy_pdf(policy),
            "naive": lambda: documents.render_policy_pdf(policy, subset_fonts=False),
        }
        subsetter = "HarfBuzz" if harfbuzz else "fontTools"
        labels = {
            "ours": f"ours (light face, {subsetter} subset)",
            "naive": f"naive (full Noto Sans CJK, {subsetter} subset)",
        }
        load_before = os.getloadavg()[0]
        results = measure(approaches, args.runs)
        load_after = os.getloadavg()[0]

        fonttools_results = None
        if args.fonttools and harfbuzz:
            saved = weasyprint_fonts.harfbuzz_subset
            weasyprint_fonts.harfbuzz_subset = None
            try:
                fonttools_results = measure(approaches, args.runs)
            finally:
                weasyprint_fonts.harfbuzz_subset = saved

        lines = [
            f"Policy schedule PDF benchmark, {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
            f"host: {platform.node()} · {platform.processor() or platform.machine()} · "
            f"{os.cpu_count()} CPUs · Python {platform.python_version()} · "
            f"WeasyPrint {weasyprint.__version__}",
            f"HarfBuzz subsetter (libharfbuzz-subset): "
            f"{'present' if harfbuzz else 'MISSING'} (HarfBuzz {harfbuzz_version}); "
            f"WeasyPrint subsets embedded fonts with {subsetter}"
            + ("" if harfbuzz else ": install libharfbuzz-subset0, the naive figure drops a lot"),
            "light faces: "
            + (
                ", ".join(
                    f"{weight} {path.stat().st_size / 1e6:.2f} MB" for weight, path in faces.items()
                )
                if faces
                else "none (no Noto Sans CJK source): both approaches use the system fonts"
            )
            + (f" (built in {font_seconds:.1f} s)" if built else " (cached)"),
            f"policy {policy.number}: {len(policy.terms.get('insured') or [])} patent, riders "
            f"{', '.join(policy.terms.get('riders') or []) or 'none'}, {len(exclusions)} "
            f"exclusions ({specials} special), {policy.instalments.count()} instalments, premium "
            f"CNY {policy.premium:,.2f}; database built in {setup_seconds:.1f} s",
            f"{args.runs} timed renders per approach, interleaved in alternating order, after one "
            "untimed first render each (the very first also pays WeasyPrint's start-up); load "
            f"average {load_before:.2f} before, {load_after:.2f} after (on {os.cpu_count()} CPUs: "
            "other work on the machine makes the figures noisy, the ratio less so)",
            "",
            *table(results, labels),
        ]
        if fonttools_results is not None:
            lines += [
                "",
                "With WeasyPrint's fontTools fallback forced (a machine without "
                "libharfbuzz-subset0):",
                *table(
                    fonttools_results,
                    {
                        "ours": "ours (light face, fontTools subset)",
                        "naive": "naive (full Noto Sans CJK, fontTools subset)",
                    },
                ),
            ]
        elif args.fonttools:
            lines += ["", "--fonttools: HarfBuzz's subsetter is missing, fontTools ran above."]

        report = "\n".join(lines) + "\n"
        print(report, end="")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report, encoding="utf-8")
        print(f"written to {args.output}")
        if args.keep:
            for name, row in results.items():
                (tmp / f"policy-{name}.pdf").write_bytes(row["pdf"])
            print(f"kept {tmp} (database, policy-ours.pdf, policy-naive.pdf)")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
