"""Demo data for the quick start and the browser tests: one account per role.

Idempotent: each object is looked up by its natural key and created only when missing, so a
second run writes nothing (no new rows, no history entries, passwords untouched).
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction

from portal import ipnumbers
from portal.choices import (
    AssetKind,
    AuthorityLevel,
    FirmSize,
    Industry,
    LegalStatus,
    MembershipRole,
    Qualification,
    WorkKind,
)
from portal.history import acting_as
from portal.models import Authority, Firm, IPAsset, Membership, OfficerMembership, User
from portal.roles import (
    CLAIMS_HANDLER,
    CLAIMS_SUPERVISOR,
    PRODUCT_MANAGER,
    SENIOR_UNDERWRITER,
    UNDERWRITER,
)

# Shared by every demo staff and officer account so that one authenticator entry serves all.
# Demo only: the accounts it protects hold nothing but demo data.
DEMO_TOTP_SECRET = "PORTALDEMOTOTPSECRET2345"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: str
    full_name: str
    mfa: bool = False


ACCOUNTS = [
    DemoAccount("applicant-a@demo.example", "applicant (firm A owner)", "张伟"),
    DemoAccount("applicant-b@demo.example", "applicant (firm B owner)", "李娜"),
    DemoAccount("underwriter@demo.example", "underwriter", "王芳", mfa=True),
    DemoAccount("senior-underwriter@demo.example", "senior underwriter", "刘洋", mfa=True),
    DemoAccount("claims@demo.example", "claims handler", "陈静", mfa=True),
    DemoAccount("claims-lead@demo.example", "claims supervisor", "何军", mfa=True),
    DemoAccount("product@demo.example", "product manager", "杨磊", mfa=True),
    DemoAccount("admin@demo.example", "administrator", "赵敏", mfa=True),
    DemoAccount("officer-wuxi@demo.example", "officer, Wuxi", "周强", mfa=True),
    DemoAccount("officer-shenzhen@demo.example", "officer, Shenzhen", "吴婷", mfa=True),
]

STAFF_GROUP_BY_EMAIL = {
    "underwriter@demo.example": [UNDERWRITER],
    "senior-underwriter@demo.example": [UNDERWRITER, SENIOR_UNDERWRITER],
    "claims@demo.example": [CLAIMS_HANDLER],
    "claims-lead@demo.example": [CLAIMS_HANDLER, CLAIMS_SUPERVISOR],
    "product@demo.example": [PRODUCT_MANAGER],
}

# How far each demo underwriter may go alone (largest sum insured, largest loading or discount
# in %); above it a senior underwriter approves the quote.
UNDERWRITER_AUTHORITY_BY_EMAIL = {
    "underwriter@demo.example": (Decimal("1000000.00"), Decimal("20.00")),
    "senior-underwriter@demo.example": (Decimal("20000000.00"), Decimal("40.00")),
}

FIRMS = [
    {
        "owner": "applicant-a@demo.example",
        "uscc": "91320214MA1XYR123M",
        "name_zh": "无锡芯研微电子有限公司",
        "name_en": "Wuxi Xinyan Microelectronics Co., Ltd.",
        "address": "江苏省无锡市新吴区菱湖大道 200 号",
        "region_code": "320214",
        "industry": Industry.ELECTRONIC_INFORMATION,
        "size": FirmSize.SMALL,
        "qualifications": [Qualification.HIGH_TECH, Qualification.SPECIALISED],
    },
    {
        "owner": "applicant-b@demo.example",
        "uscc": "91440300MA5FAB345Q",
        "name_zh": "深圳绿材新能源科技有限公司",
        "name_en": "Shenzhen Lvcai New Energy Technology Co., Ltd.",
        "address": "广东省深圳市南山区科技园南区 8 栋",
        "region_code": "440305",
        "industry": Industry.NEW_ENERGY,
        "size": FirmSize.MEDIUM,
        "qualifications": [Qualification.HIGH_TECH, Qualification.LITTLE_GIANT],
    },
]


def _patent(digits: str) -> str:
    return f"ZL{digits}.{ipnumbers.patent_check_character(digits)}"


ASSETS = {
    "91320214MA1XYR123M": [
        {
            "kind": AssetKind.PATENT,
            "number": _patent("201910123456"),
            "patent_type": "invention",
            "title": "一种低功耗射频识别芯片的时钟恢复电路",
            "filing_date": date(2019, 3, 12),
            "grant_date": date(2021, 8, 6),
            "claim_count": 10,
            "family_countries": ["CN", "US"],
            "licences_granted": 1,
        },
        {
            "kind": AssetKind.PATENT,
            "number": _patent("202020456789"),
            "patent_type": "utility_model",
            "title": "一种芯片封装散热结构",
            "filing_date": date(2020, 6, 2),
            "grant_date": date(2021, 1, 15),
            "claim_count": 6,
            "family_countries": ["CN"],
        },
        {
            "kind": AssetKind.TRADEMARK,
            "number": "45123456",
            "title": "芯研",
            "nice_classes": [9, 42],
            "grant_date": date(2021, 2, 14),
        },
        {
            "kind": AssetKind.COPYRIGHT,
            "number": "2022SR0123456",
            "title": "芯研射频测试平台软件 V2.0",
            "work_kind": WorkKind.SOFTWARE,
            "grant_date": date(2022, 1, 20),
        },
    ],
    "91440300MA5FAB345Q": [
        {
            "kind": AssetKind.PATENT,
            "number": _patent("202110654321"),
            "patent_type": "invention",
            "title": "一种高镍正极材料的包覆方法",
            "filing_date": date(2021, 5, 18),
            "grant_date": date(2023, 9, 1),
            "claim_count": 12,
            "family_countries": ["CN", "EP", "JP"],
        },
        {
            "kind": AssetKind.TRADEMARK,
            "number": "51234567",
            "title": "绿材",
            "nice_classes": [1, 9],
            "grant_date": date(2022, 7, 7),
        },
        {
            "kind": AssetKind.TRADE_SECRET,
            "title": "正极材料烧结工艺参数",
            "description": "烧结温度曲线与气氛控制参数；仅工艺部三人可查阅，存放于加密服务器。",
        },
    ],
}

AUTHORITIES = [
    {
        "region_code": "320200",
        "name_zh": "无锡市市场监督管理局（知识产权局）",
        "name_en": "Wuxi Administration for Market Regulation (IP Office)",
        "level": AuthorityLevel.CITY,
        "officer": "officer-wuxi@demo.example",
    },
    {
        "region_code": "440300",
        "name_zh": "深圳市市场监督管理局（知识产权局）",
        "name_en": "Shenzhen Administration for Market Regulation (IP Office)",
        "level": AuthorityLevel.CITY,
        "officer": "officer-shenzhen@demo.example",
    },
]


def _user(account: DemoAccount, password: str, created: list) -> User:
    user = User.objects.filter(email=account.email).first()
    if user is None:
        user = User.objects.create_user(
            account.email,
            password,
            full_name=account.full_name,
            is_staff=account.email in STAFF_GROUP_BY_EMAIL or account.email.startswith("admin@"),
            is_superuser=account.email.startswith("admin@"),
        )
        created.append(account.email)
    if not EmailAddress.objects.filter(user=user, email=account.email).exists():
        EmailAddress.objects.create(user=user, email=account.email, verified=True, primary=True)
    if (
        account.mfa
        and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    ):
        TOTP.activate(user, DEMO_TOTP_SECRET)
    return user


@transaction.atomic
def seed_demo(password: str | None = None) -> dict:
    password = password or settings.PORTAL_DEMO_PASSWORD
    created: list[str] = []
    users = {account.email: _user(account, password, created) for account in ACCOUNTS}
    admin = users["admin@demo.example"]
    with acting_as(admin):
        for email, group_names in STAFF_GROUP_BY_EMAIL.items():
            user = users[email]
            existing = set(user.groups.values_list("name", flat=True))
            missing = [name for name in group_names if name not in existing]
            if missing:
                user.groups.add(*Group.objects.filter(name__in=missing))
        # Looked up by name: the shared kernel does not import the underwriting app.
        authority_model = apps.get_model("underwriting", "UnderwriterAuthority")
        for email, (max_sum, max_adjustment) in UNDERWRITER_AUTHORITY_BY_EMAIL.items():
            if not authority_model.objects.filter(user=users[email]).exists():
                authority_model.objects.create(
                    user=users[email],
                    max_sum_insured=max_sum,
                    max_adjustment_percent=max_adjustment,
                )
                created.append(f"authority {email}")
        for spec in FIRMS:
            spec = dict(spec)
            owner = users[spec.pop("owner")]
            firm = Firm.objects.filter(uscc=spec["uscc"]).first()
            if firm is None:
                firm = Firm(**spec)
                firm.full_clean()
                firm.save()
                created.append(firm.name_zh)
            if not Membership.objects.filter(user=owner, firm=firm).exists():
                Membership.objects.create(user=owner, firm=firm, role=MembershipRole.OWNER)
            for asset_spec in ASSETS[firm.uscc]:
                lookup = {"firm": firm, "kind": asset_spec["kind"]}
                if asset_spec.get("number"):
                    lookup["number"] = asset_spec["number"]
                else:
                    lookup["title"] = asset_spec["title"]
                if IPAsset.objects.filter(**lookup).exists():
                    continue
                asset = IPAsset(firm=firm, legal_status=LegalStatus.GRANTED, **asset_spec)
                if asset.kind == AssetKind.PATENT:
                    asset.expiry_date = ipnumbers.patent_expiry(
                        asset.patent_type, asset.filing_date
                    )
                elif asset.kind == AssetKind.TRADEMARK:
                    asset.expiry_date = ipnumbers.trademark_expiry(asset.grant_date)
                asset.full_clean()
                asset.save()
                created.append(str(asset))
        for spec in AUTHORITIES:
            spec = dict(spec)
            officer = users[spec.pop("officer")]
            authority = Authority.objects.filter(region_code=spec["region_code"]).first()
            if authority is None:
                authority = Authority.objects.create(**spec)
                created.append(authority.name_zh)
            if not OfficerMembership.objects.filter(user=officer).exists():
                OfficerMembership.objects.create(user=officer, authority=authority)
    return {"created": created, "password": password}


def login_table(password: str) -> str:
    width = max(len(account.email) for account in ACCOUNTS)
    lines = [f"  {'email'.ljust(width)}  role", f"  {'-' * width}  ----"]
    for account in ACCOUNTS:
        mfa = "  (TOTP)" if account.mfa else ""
        lines.append(f"  {account.email.ljust(width)}  {account.role}{mfa}")
    lines.append(f"  password for every demo account: {password}")
    lines.append(
        f"  TOTP accounts: add secret {DEMO_TOTP_SECRET} to an authenticator app, "
        "or run `.venv/bin/python manage.py totp_code` for the current code."
    )
    return "\n".join(lines)
