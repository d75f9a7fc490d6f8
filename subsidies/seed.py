"""Load the subsidy programmes of ``programmes.yaml``: their authorities, the programmes with a
window over the current year, and this year's budget. Idempotent: existing rows are kept."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import yaml
from django.db import transaction
from django.utils import timezone

from portal.models import Authority
from subsidies.models import Budget, Programme

PROGRAMMES_FILE = Path(__file__).with_name("programmes.yaml")
_OPTIONAL_MONEY = ("cap_per_item", "cap_per_policy", "cap_per_firm_year")
_OPTIONAL_RATES = ("rate_renewal", "rate_champion")


@transaction.atomic
def seed_programmes(path: Path = PROGRAMMES_FILE) -> list[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    year = timezone.localdate().year
    created = []
    for spec in data.get("authorities", []):
        if not Authority.objects.filter(region_code=spec["region_code"]).exists():
            Authority.objects.create(**spec)
            created.append(spec["name_zh"])
    documents = data.get("documents", [])
    for spec in data.get("programmes", []):
        authority = Authority.objects.filter(region_code=spec["authority"]).first()
        if authority is None:  # an authority seed_demo did not create (tests may skip it)
            continue
        programme = Programme.objects.filter(code=spec["code"]).first()
        if programme is None:
            fields = {
                key: spec.get(key, "")
                for key in ("name_zh", "name_en", "description_zh", "description_en")
            }
            programme = Programme.objects.create(
                authority=authority,
                code=spec["code"],
                region_prefix=spec.get("region_prefix", ""),
                product_codes=spec.get("product_codes", []),
                ip_kinds=spec.get("ip_kinds", []),
                qualifications=spec.get("qualifications", []),
                rate_first=Decimal(spec["rate_first"]),
                uplift_high_value=Decimal(spec.get("uplift_high_value", "0")),
                window_start=date(year, 1, 1),
                window_end=date(year, 12, 31),
                required_documents=spec.get("documents", documents),
                **{k: Decimal(spec[k]) for k in _OPTIONAL_MONEY + _OPTIONAL_RATES if k in spec},
                **fields,
            )
            created.append(programme.code)
        if not Budget.objects.filter(programme=programme, year=year).exists():
            Budget.objects.create(programme=programme, year=year, amount=Decimal(spec["budget"]))
            created.append(f"{programme.code} budget {year}")
    return created
