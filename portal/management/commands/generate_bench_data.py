"""The load benchmark's dataset (`make bench`, README "Benchmark"): at scale 1, 10,000 firms,
50,000 applications, 20,000 policies, 5,000 claims and 10,000 subsidy requests.

The services are far too slow for that many rows, so one application of each kind goes through
them first (quoted, referred, acknowledged, paid, claimed, subsidised) and the bulk rows copy
those templates' snapshots (answers, valuation, rating, rule results, terms, exclusion notice,
eligibility) with their own firm, right, status, dates and numbers. Numbers come from the same
sequences the services use, and the sequence rows are moved past them, so a later service call
never collides with a generated number.

Needs the catalogue, the programmes and the demo users (`seed_catalogue`, `seed_demo`) and an
empty bench: with applications already there it stops unless ``--force``.
"""

import contextlib
import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.test.utils import override_settings
from django.utils import timezone
from stdnum.cn import uscc

from portal import ipnumbers
from portal.choices import AssetKind, FirmSize, Industry, LegalStatus, MembershipRole
from portal.models import Firm, IPAsset, Membership, Notification, OfficerMembership, User

BENCH_APPLICANT = "applicant-a@demo.example"
BENCH_PRODUCT = "PAT-ENF"
BATCH = 2000

# Two firms in three are in Wuxi, so the Wuxi officer's queue is the big one.
WUXI = ["320200", "320205", "320206", "320211", "320213", "320214", "320281", "320282"]
SHENZHEN = ["440303", "440304", "440305", "440306", "440307"]
ELSEWHERE = ["110105", "110108", "370102", "370211", "440112", "441900", "320412", "310115"]

APPLICATION_MIX = [
    ("draft", 18),
    ("submitted", 2),
    ("referred", 14),
    ("info_requested", 2),
    ("quoted", 12),
    ("declined", 4),
    ("expired", 4),
    ("withdrawn", 4),
]  # the rest of the 50,000 are the accepted applications of the 20,000 policies
POLICY_MIX = [
    ("awaiting_payment", 8),
    ("issued", 8),
    ("in_force", 54),
    ("expired", 22),
    ("cancelled", 4),
    ("lapsed", 4),
]
CLAIM_MIX = [
    ("notified", 20),
    ("documents_requested", 15),
    ("under_assessment", 20),
    ("accepted", 10),
    ("settled", 8),
    ("paid", 15),
    ("rejected", 8),
    ("withdrawn", 4),
]
SUBSIDY_MIX = [
    ("draft", 6),
    ("submitted", 4),
    ("under_review", 40),
    ("returned", 5),
    ("approved", 12),
    ("rejected", 8),
    ("publicised", 8),
    ("disbursed", 12),
    ("withdrawn", 5),
]
OPEN_CLAIM = {"notified", "documents_requested", "under_assessment", "accepted", "settled"}
PAID_POLICY = {"issued", "in_force", "expired", "cancelled"}
COUNTED = {"approved", "publicised"}


@contextlib.contextmanager
def explicit_timestamps(*model_classes):
    """Let bulk_create keep the dates we set: auto_now(_add) would stamp every row with now."""
    saved = []
    for model in model_classes:
        for field in model._meta.concrete_fields:
            if isinstance(field, models.DateTimeField | models.DateField) and (
                field.auto_now or field.auto_now_add
            ):
                saved.append((field, field.auto_now, field.auto_now_add))
                field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in saved:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def spread(total: int, mix) -> list[str]:
    """``total`` statuses in the proportions of ``mix`` (largest remainder first)."""
    weight = sum(w for _s, w in mix)
    counts = {status: total * w // weight for status, w in mix}
    rest = total - sum(counts.values())
    for status, _w in sorted(mix, key=lambda item: -(total * item[1] % weight))[:rest]:
        counts[status] += 1
    return [status for status, _w in mix for _ in range(counts[status])]


def bulk(model, rows: list) -> list:
    created = []
    for start in range(0, len(rows), BATCH):
        created.extend(model.objects.bulk_create(rows[start : start + BATCH]))
    return created


class Command(BaseCommand):
    help = "Build the load benchmark's dataset (see README, Benchmark)."

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=1.0, help="1 = 10,000 firms")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--force", action="store_true", help="add rows to a built bench")

    def handle(self, *args, scale, seed, force, **options):
        from underwriting.models import Application

        applicant = User.objects.filter(email=BENCH_APPLICANT).first()
        if applicant is None:
            raise CommandError("Run seed_demo and seed_catalogue first.")
        self.firm = applicant.memberships.select_related("firm").get().firm
        if not force and Application.objects.filter(firm=self.firm).count() > 10:
            self.stdout.write("The bench dataset is already built; --force adds another.")
            return
        self.rng = random.Random(seed)
        self.applicant = applicant
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.counts = {
            "firms": max(4, round(10_000 * scale)),
            "applications": max(50, round(50_000 * scale)),
            "policies": max(20, round(20_000 * scale)),
            "claims": max(5, round(5_000 * scale)),
            "subsidies": max(10, round(10_000 * scale)),
        }
        started = time.monotonic()
        self.step("templates through the services", self.make_templates)
        with explicit_timestamps(*self.models()), transaction.atomic():
            self.step("firms, owners and rights", self.make_firms)
            self.step("applications and quotes", self.make_applications)
            self.step("acknowledgements, policies, payments", self.make_policies)
            self.step("claims", self.make_claims)
            self.step("subsidy requests and the budget ledger", self.make_subsidies)
            self.step("notifications", self.make_notifications)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # VACUUM sets the visibility map too, so the list pages' counts are index-only
                # scans; it cannot run inside a transaction (a test's), where ANALYZE must do.
                cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)")
        self.stdout.write(f"Bench dataset: {self.summary()} in {time.monotonic() - started:.0f} s.")

    def models(self):
        from claims.models import Claim
        from subsidies.models import SubsidyRequest
        from underwriting.models import Acknowledgement, Application, Policy, Quote

        return [Firm, IPAsset, Membership, Notification, User, Application, Quote] + [
            Acknowledgement,
            Policy,
            Claim,
            SubsidyRequest,
        ]

    def step(self, label, function):
        started = time.monotonic()
        function()
        self.stdout.write(f"  {label}: {time.monotonic() - started:.1f} s")

    def summary(self) -> str:
        from claims.models import Claim
        from subsidies.models import SubsidyRequest
        from underwriting.models import Application, Policy

        return ", ".join(
            f"{model.objects.count():,} {name}"
            for name, model in [
                ("firms", Firm),
                ("applications", Application),
                ("policies", Policy),
                ("claims", Claim),
                ("subsidy requests", SubsidyRequest),
            ]
        )

    # --- Templates -----------------------------------------------------------------------------

    def make_templates(self):
        """One of each kind through the services, on the bench applicant's firm."""
        from claims import services as claim_services
        from subsidies import services as subsidy_services
        from subsidies.choices import RequestStatus
        from subsidies.models import Programme, SubsidyRequest
        from underwriting import services
        from underwriting.choices import ApplicationStatus, PaymentMethod, QuoteStatus
        from underwriting.demo import seed_demo_activity
        from underwriting.models import Application, Policy

        seed_demo_activity()
        apps = Application.objects.filter(firm=self.firm)
        quoted = apps.filter(status=ApplicationStatus.QUOTED).first()
        referred = apps.filter(status=ApplicationStatus.REFERRED).first()
        if quoted is None or referred is None:
            raise CommandError(
                "seed_demo_activity did not leave a quoted and a referred application."
            )
        quote = quoted.quotes.get(status=QuoteStatus.OFFERED)
        notice = services.exclusion_notice(quote)
        # The notice's reading time is a rule for people; the template is accepted at once.
        with override_settings(EXCLUSION_NOTICE_MIN_SECONDS=0):
            policy = services.acknowledgement_record(
                quote=quote,
                actor=self.applicant,
                token=services.notice_token(quote=quote, user=self.applicant, notice=notice),
                text_sha256=notice.sha256,
                ticks={key: True for key in notice.keys},
                confirmed=True,
                ip_address="127.0.0.1",
                user_agent="generate_bench_data",
            )
        services.payment_record(
            policy=policy,
            actor=None,
            amount=policy.instalments.get(sequence=1).amount,
            reference=f"BENCH-TEMPLATE-{policy.pk}",
            method=PaymentMethod.SANDBOX,
        )
        start = self.today - timedelta(days=60)
        Policy.objects.filter(pk=policy.pk).update(
            start_date=start, end_date=start.replace(year=start.year + 1) - timedelta(days=1)
        )
        services.policies_roll(today=self.today)
        policy.refresh_from_db()
        claim = claim_services.claim_notify(
            policy=policy,
            actor=self.applicant,
            incident_date=self.today - timedelta(days=10),
            cause_number=1,
            right_ids=[item["id"] for item in policy.terms["insured"]],
            description="竞争对手在展会上销售仿冒我方专利阀门的产品。",
            amount_claimed=Decimal("80000.00"),
        )
        programme = Programme.objects.get(code="wuxi-ip-insurance")
        request = subsidy_services.subsidy_request_create(
            policy=policy, programme=programme, actor=self.applicant
        )
        # Documents are skipped: only the eligibility results' shape is copied from it.
        SubsidyRequest.objects.filter(pk=request.pk).update(
            status=RequestStatus.SUBMITTED, submitted_at=self.now
        )
        subsidy_services.eligibility_check(request.pk)
        quoted.refresh_from_db()
        referred.refresh_from_db()
        claim.refresh_from_db()
        request.refresh_from_db()
        policy.refresh_from_db()
        self.t_app, self.t_referred, self.t_policy = quoted, referred, policy
        self.t_item = quoted.insured_assets.get()
        self.t_quote = policy.quote
        self.t_ack = policy.acknowledgement
        self.t_claim, self.t_request = claim, request
        self.product, self.version = quoted.product, quoted.clause_version

    # --- Firms ---------------------------------------------------------------------------------

    def make_firms(self):
        rng = self.rng
        industries = [c for c, _l in Industry.choices]
        sizes = [c for c, _l in FirmSize.choices]
        existing = Firm.objects.count()
        firms, users = [], []
        for n in range(self.counts["firms"]):
            roll = rng.random()
            region = rng.choice(WUXI if roll < 0.66 else SHENZHEN if roll < 0.85 else ELSEWHERE)
            body = f"91{region}B{existing + n:08d}"
            firms.append(
                Firm(
                    name_zh=f"基准测试企业{n:05d}有限公司",
                    name_en=f"Bench Firm {n:05d} Co., Ltd.",
                    uscc=body + uscc.calc_check_digit(body),
                    address=f"{region} 测试路{n % 500 + 1}号",
                    region_code=region,
                    industry=rng.choice(industries),
                    size=rng.choice(sizes),
                    qualifications=rng.choice([[], [], ["high_tech"], ["little_giant"]]),
                    created_at=self.now - timedelta(days=rng.randint(30, 900)),
                )
            )
            users.append(
                User(
                    email=f"bench-{existing + n:05d}@bench.example",
                    full_name=f"基准用户{n:05d}",
                    password="!",  # unusable: these owners never sign in
                    date_joined=self.now - timedelta(days=rng.randint(30, 900)),
                )
            )
        firms = bulk(Firm, firms)
        users = bulk(User, users)
        bulk(
            Membership,
            [
                Membership(user=u, firm=f, role=MembershipRole.OWNER, created_at=f.created_at)
                for f, u in zip(firms, users, strict=True)
            ],
        )
        assets = []
        for n, firm in enumerate(firms):
            digits = f"20{rng.randint(15, 23)}1{n:07d}"
            assets.append(
                IPAsset(
                    firm=firm,
                    kind=AssetKind.PATENT,
                    number=f"ZL{digits}.{ipnumbers.patent_check_character(digits)}",
                    title=f"一种测试用装置及其控制方法（{n:05d}）",
                    patent_type="invention",
                    filing_date=date(2016 + n % 7, 1 + n % 12, 1 + n % 28),
                    grant_date=date(2018 + n % 6, 1 + n % 12, 1 + n % 28),
                    expiry_date=date(2036 + n % 7, 1 + n % 12, 1 + n % 28),
                    claim_count=rng.randint(3, 20),
                    legal_status=LegalStatus.GRANTED,
                    family_countries=["CN"],
                    created_at=firm.created_at,
                    updated_at=firm.created_at,
                )
            )
        assets = bulk(IPAsset, assets)
        self.firms = firms
        self.owner_of = {f.pk: u for f, u in zip(firms, users, strict=True)}
        self.owner_of[self.firm.pk] = self.applicant
        self.asset_of = {a.firm_id: a for a in assets}
        self.asset_of[self.firm.pk] = self.t_item.asset

    # --- Applications --------------------------------------------------------------------------

    def _firm_for(self, index: int, focus: int):
        """The first ``focus`` rows belong to the bench applicant's firm, the rest spread."""
        return self.firm if index < focus else self.firms[self.rng.randrange(len(self.firms))]

    def make_applications(self):
        from underwriting.models import Application, ApplicationAsset, Quote

        rng = self.rng
        n_policies = self.counts["policies"]
        n_other = self.counts["applications"] - n_policies
        statuses = spread(n_other, APPLICATION_MIX)
        rng.shuffle(statuses)
        # The bench firm: 50 applications, of them 20 accepted (its policies) and 30 others.
        focus_policies = min(20, n_policies)
        focus_other = min(30, n_other)
        t, tr = self.t_app, self.t_referred
        rows = []
        plan = [(s, i < focus_other) for i, s in enumerate(statuses)]
        plan += [("accepted", i < focus_policies) for i in range(n_policies)]
        for status, focus in plan:
            firm = self.firm if focus else self.firms[rng.randrange(len(self.firms))]
            created = self.now - timedelta(days=rng.randint(1, 700), seconds=rng.randint(0, 86_399))
            if status == "accepted":
                # Cover of accepted applications runs from 400 days ago to 60 days ahead.
                created = self.now - timedelta(days=rng.randint(0, 460) + 5)
            submitted = None if status == "draft" else created + timedelta(minutes=30)
            source = tr if status in {"referred", "info_requested", "declined"} else t
            draft = status == "draft"
            rows.append(
                Application(
                    firm=firm,
                    product=self.product,
                    clause_version=self.version,
                    created_by=self.owner_of[firm.pk],
                    status=status,
                    status_changed_at=(submitted or created) + timedelta(hours=rng.randint(0, 48)),
                    completed_steps=rng.choice([["cover"], ["cover"], t.completed_steps])
                    if draft
                    else t.completed_steps,
                    limits=t.limits,
                    deductible=t.deductible,
                    rider_codes=t.rider_codes,
                    wished_start=(created + timedelta(days=14)).date(),
                    cover_inputs=t.cover_inputs,
                    risk_answers={} if draft else source.risk_answers,
                    sum_insured=t.sum_insured,
                    declared_at=submitted,
                    declared_by=None if draft else self.owner_of[firm.pk],
                    frozen_answers={} if draft else source.frozen_answers,
                    answers_sha256="" if draft else source.answers_sha256,
                    submitted_at=submitted,
                    valuation={} if draft else source.valuation,
                    rating={} if draft else source.rating,
                    rule_results=[] if draft else source.rule_results,
                    created_at=created,
                    updated_at=submitted or created,
                )
            )
        apps = bulk(Application, rows)
        item = self.t_item
        bulk(
            ApplicationAsset,
            [
                ApplicationAsset(
                    application=a,
                    asset=self.asset_of[a.firm_id],
                    valuation_answers=item.valuation_answers,
                    valuation={} if a.status == "draft" else item.valuation,
                )
                for a in apps
            ],
        )
        quote_status = {"quoted": "offered", "accepted": "accepted", "expired": "expired"}
        q = self.t_quote
        quotes = []
        for a in apps:
            if a.status not in quote_status:
                continue
            offered = a.submitted_at + timedelta(minutes=1)
            quotes.append(
                Quote(
                    application=a,
                    number=f"Q{a.reference}-01",
                    status=quote_status[a.status],
                    limits=q.limits,
                    deductible=q.deductible,
                    rider_codes=q.rider_codes,
                    sum_insured=q.sum_insured,
                    breakdown=q.breakdown,
                    technical_premium=q.technical_premium,
                    adjustment_percent=q.adjustment_percent,
                    premium=q.premium,
                    special_exclusions=q.special_exclusions,
                    valid_until=(offered + timedelta(days=30)).date()
                    if a.status != "quoted"
                    else self.today + timedelta(days=rng.randint(1, 30)),
                    created_at=offered,
                )
            )
        quotes = bulk(Quote, quotes)
        quoted = [a for a in apps if a.status in quote_status]
        self.accepted = [
            (a, quote) for a, quote in zip(quoted, quotes, strict=True) if a.status == "accepted"
        ]

    # --- Policies ------------------------------------------------------------------------------

    def make_policies(self):
        from underwriting.models import (
            Acknowledgement,
            Instalment,
            Payment,
            Policy,
            PolicyNumberSequence,
        )

        rng = self.rng
        ack, tp = self.t_ack, self.t_policy
        acks = []
        for a, quote in self.accepted:
            confirmed = quote.created_at + timedelta(days=rng.randint(0, 3), minutes=5)
            acks.append(
                Acknowledgement(
                    quote=quote,
                    application=a,
                    firm_id=a.firm_id,
                    user=self.owner_of[a.firm_id],
                    clause_version=self.version,
                    notice_version=ack.notice_version,
                    text_sha256=ack.text_sha256,
                    notice_text=ack.notice_text,
                    items=ack.items,
                    shown_at=confirmed - timedelta(seconds=95),
                    confirmed_at=confirmed,
                    dwell_seconds=95,
                    ip_address="127.0.0.1",
                    user_agent="generate_bench_data",
                )
            )
        acks = bulk(Acknowledgement, acks)
        # Each policy's status follows from its period: ended ones expired, started in force.
        statuses = spread(len(acks), POLICY_MIX)
        rng.shuffle(statuses)
        sequences = {(s.product_id, s.year): s.last for s in PolicyNumberSequence.objects.all()}
        policies = []
        for (a, quote), acknowledgement, status in zip(self.accepted, acks, statuses, strict=True):
            if status in {"awaiting_payment", "issued"}:
                start = self.today + timedelta(days=rng.randint(1, 40))
            elif status == "expired":
                start = self.today - timedelta(days=rng.randint(370, 500))
            else:
                start = self.today - timedelta(days=rng.randint(10, 330))
            end = start.replace(year=start.year + 1) - timedelta(days=1)
            terms = dict(tp.terms)
            asset = self.asset_of[a.firm_id]
            terms["insured"] = [
                {"id": asset.pk, "kind": asset.kind, "number": asset.number, "title": asset.title}
            ]
            number = None
            issued_at = None
            if status != "awaiting_payment":
                key = (self.product.pk, start.year)
                sequences[key] = sequences.get(key, 0) + 1
                number = f"{self.product.code}-{start.year}-{sequences[key]:06d}"
                issued_at = acknowledgement.confirmed_at + timedelta(days=1)
            policies.append(
                Policy(
                    number=number,
                    application=a,
                    quote=quote,
                    acknowledgement=acknowledgement,
                    firm_id=a.firm_id,
                    product=self.product,
                    clause_version=self.version,
                    status=status,
                    status_changed_at=issued_at or acknowledgement.confirmed_at,
                    start_date=start,
                    end_date=end,
                    premium=quote.premium,
                    sum_insured=quote.sum_insured,
                    remaining_sum_insured=quote.sum_insured,
                    terms=terms,
                    issued_at=issued_at,
                    created_at=acknowledgement.confirmed_at,
                )
            )
        policies = bulk(Policy, policies)
        for (product_id, year), last in sequences.items():
            PolicyNumberSequence.objects.update_or_create(
                product_id=product_id, year=year, defaults={"last": last}
            )
        instalments = [
            Instalment(
                policy=p,
                sequence=1,
                due_date=min(p.start_date, p.created_at.date() + timedelta(days=7)),
                amount=p.premium,
                status="due" if p.status == "awaiting_payment" else "paid",
                paid_at=p.issued_at,
            )
            for p in policies
        ]
        instalments = bulk(Instalment, instalments)
        payments = [
            Payment(
                policy=p,
                instalment=i,
                amount=p.premium,
                method="bank_transfer",
                reference=f"BENCH-{p.pk}",
                received_at=p.issued_at,
            )
            for p, i in zip(policies, instalments, strict=True)
            if p.issued_at
        ]
        bulk(Payment, payments)
        self.policies = policies

    # --- Claims --------------------------------------------------------------------------------

    def make_claims(self):
        from claims.models import Claim, ClaimNumberSequence

        rng = self.rng
        eligible = [p for p in self.policies if p.status in {"in_force", "expired"}]
        mine = [p for p in eligible if p.firm_id == self.firm.pk]
        others = [p for p in eligible if p.firm_id != self.firm.pk]
        rng.shuffle(others)
        count = min(self.counts["claims"], len(eligible))
        chosen = (mine[:8] + others + mine[8:])[:count]
        # Some policies get a second claim when there are fewer policies than claims.
        statuses = spread(len(chosen), CLAIM_MIX)
        rng.shuffle(statuses)
        tc = self.t_claim
        sequences = {s.year: s.last for s in ClaimNumberSequence.objects.all()}
        handlers = list(User.objects.filter(groups__name="claims_handler").distinct())
        rows = []
        for policy, status in zip(chosen, statuses, strict=True):
            last_day = min(policy.end_date, self.today - timedelta(days=2))
            incident = policy.start_date + timedelta(
                days=rng.randint(0, max(0, (last_day - policy.start_date).days))
            )
            notified = datetime.combine(
                min(incident + timedelta(days=rng.randint(1, 20)), self.today),
                datetime.min.time(),
                tzinfo=UTC,
            ) + timedelta(hours=rng.randint(1, 10))
            sequences[notified.year] = sequences.get(notified.year, 0) + 1
            number = f"CLM-{notified.year}-{sequences[notified.year]:06d}"
            complete = status not in {"notified", "documents_requested", "withdrawn"}
            decided = status in {"accepted", "settled", "paid", "rejected"}
            agreed = status in {"settled", "paid"}
            claimed = Decimal(rng.randint(20, 400) * 1000)
            amount = min(claimed, policy.sum_insured) * Decimal("0.8")
            day = notified.date()
            deadline = None
            kind = ""
            if status in {"documents_requested", "under_assessment", "accepted"} and complete:
                deadline, kind = day + timedelta(days=rng.randint(20, 40)), "decision"
            elif status == "settled":
                deadline, kind = day + timedelta(days=rng.randint(5, 20)), "payment"
            rows.append(
                Claim(
                    number=number,
                    policy=policy,
                    firm_id=policy.firm_id,
                    reported_by=self.owner_of[policy.firm_id],
                    incident_date=incident,
                    learned_on=incident,
                    cause_number=tc.cause_number,
                    cause=tc.cause,
                    rights=policy.terms["insured"],
                    description=tc.description,
                    amount_claimed=claimed,
                    notified_at=notified,
                    status=status,
                    status_changed_at=notified + timedelta(days=rng.randint(0, 20)),
                    handler=rng.choice(handlers) if handlers and status != "notified" else None,
                    reserve=amount if complete else None,
                    documents_complete_on=day + timedelta(days=5) if complete else None,
                    decision=("reject" if status == "rejected" else "accept") if decided else "",
                    decided_on=day + timedelta(days=15) if decided else None,
                    decision_reasons="经审核，损失属于保险责任范围。" if decided else "",
                    rejection_notice_sent_on=day + timedelta(days=16)
                    if status == "rejected"
                    else None,
                    amount_agreed=amount.quantize(Decimal("0.01")) if agreed else None,
                    amount_agreed_on=day + timedelta(days=20) if agreed else None,
                    paid_on=day + timedelta(days=25) if status == "paid" else None,
                    next_deadline_on=deadline,
                    next_deadline_kind=kind,
                    created_at=notified,
                )
            )
        bulk(Claim, rows)
        for year, last in sequences.items():
            ClaimNumberSequence.objects.update_or_create(year=year, defaults={"last": last})

    # --- Subsidies -----------------------------------------------------------------------------

    def make_subsidies(self):
        from subsidies.models import (
            Budget,
            DisbursementBatch,
            FirmAllowance,
            Programme,
            RequestNumberSequence,
            SubsidyRequest,
        )

        rng = self.rng
        year = self.today.year
        programmes = {
            p.region_prefix: p
            for p in Programme.objects.filter(
                code__in=["wuxi-ip-insurance", "shenzhen-overseas-ip"]
            )
        }
        firms = {f.pk: f for f in self.firms}
        firms[self.firm.pk] = self.firm

        def programme_of(policy):
            region = firms[policy.firm_id].region_code
            return programmes.get(region[:4])

        paid = [p for p in self.policies if p.status in PAID_POLICY and programme_of(p)]
        mine = [p for p in paid if p.firm_id == self.firm.pk]
        others = [p for p in paid if p.firm_id != self.firm.pk]
        rng.shuffle(others)
        chosen = (mine[:5] + others + mine[5:])[: self.counts["subsidies"]]
        statuses = spread(len(chosen), SUBSIDY_MIX)
        rng.shuffle(statuses)
        tr = self.t_request
        officers = {
            m.authority_id: m.user for m in OfficerMembership.objects.select_related("user")
        }
        batches = {}
        sequence = RequestNumberSequence.objects.filter(year=year).first()
        last = sequence.last if sequence else 0
        rows = []
        for policy, status in zip(chosen, statuses, strict=True):
            programme = programme_of(policy)
            rate = programme.rate_first
            expected = (policy.premium * rate / 100).quantize(Decimal("0.01"), ROUND_DOWN)
            if programme.cap_per_item:
                expected = min(expected, programme.cap_per_item)
            created = self.now - timedelta(days=rng.randint(1, 200))
            submitted = None if status == "draft" else created + timedelta(hours=2)
            decided = status in {"approved", "rejected", "publicised", "disbursed"}
            approved = status in {"approved", "publicised", "disbursed"}
            batch = None
            if status == "disbursed":
                if programme.authority_id not in batches:
                    batches[programme.authority_id] = DisbursementBatch.objects.create(
                        authority_id=programme.authority_id,
                        number=f"BAT-{year}-B{programme.authority_id:05d}",
                        status="paid",
                        created_by=officers.get(programme.authority_id, self.applicant),
                        payment_reference=f"TREASURY-BENCH-{programme.authority_id}",
                        paid_on=self.today - timedelta(days=3),
                    )
                batch = batches[programme.authority_id]
            published = status in {"publicised", "disbursed"}
            last += 1
            rows.append(
                SubsidyRequest(
                    number=f"SUB-{year}-{last:06d}",
                    programme=programme,
                    authority_id=programme.authority_id,
                    policy=policy,
                    firm_id=policy.firm_id,
                    year=year,
                    status=status,
                    status_changed_at=(submitted or created) + timedelta(hours=1),
                    premium_paid=policy.premium,
                    items=1,
                    rate=rate,
                    expected_amount=expected,
                    approved_amount=expected if approved else None,
                    eligibility=[] if status == "draft" else tr.eligibility,
                    eligibility_outcome="" if status == "draft" else tr.eligibility_outcome,
                    eligibility_checked_at=submitted,
                    created_by=self.owner_of[policy.firm_id],
                    created_at=created,
                    submitted_at=submitted,
                    decided_by=officers.get(programme.authority_id) if decided else None,
                    decided_at=submitted + timedelta(days=3) if decided else None,
                    reasons="材料齐全，符合补贴条件。" if decided else "",
                    publication_starts=self.today - timedelta(days=10) if published else None,
                    publication_ends=self.today - timedelta(days=5) if published else None,
                    batch=batch,
                )
            )
        requests = bulk(SubsidyRequest, rows)
        RequestNumberSequence.objects.update_or_create(year=year, defaults={"last": last})
        # The ledger agrees with the requests: reserved, paid and granted per firm.
        for programme in programmes.values():
            mine = [r for r in requests if r.programme_id == programme.pk]
            committed = sum((r.approved_amount for r in mine if r.status in COUNTED), Decimal(0))
            paid_out = sum((r.approved_amount for r in mine if r.status == "disbursed"), Decimal(0))
            budget, _created = Budget.objects.get_or_create(
                programme=programme, year=year, defaults={"amount": Decimal("5000000.00")}
            )
            budget.committed += committed
            budget.paid += paid_out
            budget.amount = max(budget.amount, (budget.committed + budget.paid) * Decimal("1.5"))
            budget.save()
            granted = {}
            for r in mine:
                if r.approved_amount is not None:
                    granted[r.firm_id] = granted.get(r.firm_id, Decimal(0)) + r.approved_amount
            existing = {
                a.firm_id: a for a in FirmAllowance.objects.filter(programme=programme, year=year)
            }
            for firm_id, amount in granted.items():
                if firm_id in existing:
                    existing[firm_id].granted += amount
                    existing[firm_id].save(update_fields=["granted"])
            bulk(
                FirmAllowance,
                [
                    FirmAllowance(programme=programme, firm_id=f, year=year, granted=amount)
                    for f, amount in granted.items()
                    if f not in existing
                ],
            )

    def make_notifications(self):
        rng = self.rng
        bulk(
            Notification,
            [
                Notification(
                    user=self.applicant,
                    firm=self.firm,
                    title=f"基准通知 {n}",
                    body="您的投保申请状态已更新。",
                    url="/app/applications/",
                    created_at=self.now - timedelta(hours=rng.randint(1, 2000)),
                    read_at=None if n % 4 == 0 else self.now,
                )
                for n in range(200)
            ],
        )
