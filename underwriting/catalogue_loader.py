"""Load the catalogue data files (underwriting/catalogue/*.yaml) into the database.

Idempotent: what exists (by code) is left as it is — after the first load the database is the
record and product managers change it through the admin; a second run changes nothing.
"""

from datetime import date
from decimal import Decimal
from pathlib import Path

import yaml
from django.db import transaction

from portal.history import acting_as
from underwriting import services
from underwriting.choices import ClauseStatus, ProductStatus
from underwriting.models import (
    CoefficientOption,
    CoefficientTable,
    Insurer,
    Product,
    ProductInsurer,
    RatingSection,
    Rider,
    RiderFactor,
)

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"
ALL_IP_TYPES = [
    "patent",
    "trademark",
    "copyright",
    "geographical_indication",
    "plant_variety",
    "ic_layout",
    "trade_secret",
]


def _read(name: str, directory: Path):
    with open(directory / f"{name}.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _bilingual(value) -> dict:
    value = value or {}
    return {"zh": str(value.get("zh", "")).strip(), "en": str(value.get("en", "")).strip()}


def _clause_fields(clause: dict) -> dict:
    effective = clause.get("effective_date") or date(2025, 1, 1)
    if isinstance(effective, str):
        effective = date.fromisoformat(effective)
    return {
        "label": str(clause.get("label") or "2025"),
        "effective_date": effective,
        "insured_object": _bilingual(clause.get("insured_object")),
        "covered_causes": [
            {"title": _bilingual(c.get("title")), "text": _bilingual(c.get("text"))}
            for c in clause.get("covered_causes", [])
        ],
        "exclusions": [
            {
                "title": _bilingual(e.get("title")),
                "text": _bilingual(e.get("text")),
                "explanation": _bilingual(e.get("explanation")),
            }
            for e in clause.get("exclusions", [])
        ],
        "obligations": [_bilingual(o) for o in clause.get("obligations", [])],
        "claim_documents": [
            {
                "code": str(d["code"]),
                "zh": str(d.get("zh", "")),
                "en": str(d.get("en", "")),
                "required": bool(d.get("required", True)),
            }
            for d in clause.get("claim_documents", [])
        ],
        "deductible_rules": _bilingual(clause.get("deductible_rules")),
        "short_rate_table": [int(p) for p in clause.get("short_rate_table") or []],
    }


def _create_rating(version, rating: dict, riders_by_code: dict) -> None:
    for position, section in enumerate(rating.get("sections", [])):
        RatingSection.objects.create(
            clause_version=version,
            code=section["code"],
            name_zh=section["zh"],
            name_en=section.get("en", ""),
            base_rate=Decimal(str(section["base_rate"])),
            per_item=bool(section.get("per_item", False)),
            limit_options=[str(Decimal(str(v))) for v in section.get("limit_options", [])],
            position=position,
        )
    for position, table in enumerate(rating.get("coefficients", [])):
        table_row = CoefficientTable.objects.create(
            clause_version=version,
            code=table["code"],
            name_zh=table["zh"],
            name_en=table.get("en", ""),
            applies_to=list(table.get("applies_to") or []),
            input_key=table.get("input") or "",
            position=position,
        )
        for option_position, option in enumerate(table.get("options", [])):
            CoefficientOption.objects.create(
                table=table_row,
                code=option["code"],
                label_zh=option["zh"],
                label_en=option.get("en", ""),
                factor=Decimal(str(option["factor"])),
                lower=None if option.get("lower") is None else Decimal(str(option["lower"])),
                upper=None if option.get("upper") is None else Decimal(str(option["upper"])),
                is_default=bool(option.get("default", False)),
                position=option_position,
            )
    for item in rating.get("rider_factors", []):
        rider = riders_by_code.get(item["rider"])
        if rider is not None:
            RiderFactor.objects.create(
                clause_version=version, rider=rider, factor=Decimal(str(item["factor"]))
            )


def _ensure_clause(owner, clause: dict | None, actor, riders_by_code, created: list) -> None:
    if not clause or owner.clause_versions.exists():
        return
    fields = _clause_fields(clause)
    rating = clause.get("rating") or {}
    if rating.get("minimum_premium") is not None:
        fields["minimum_premium"] = Decimal(str(rating["minimum_premium"]))
    kind = {"product": owner} if isinstance(owner, Product) else {"rider": owner}
    version = services.clause_version_create_draft(actor=actor, **kind, **fields)
    if isinstance(owner, Product):
        _create_rating(version, rating, riders_by_code)
    services.clause_version_publish(version=version, actor=actor)
    created.append(f"clause {version}")


@transaction.atomic
def load_catalogue(*, actor=None, directory: Path = CATALOGUE_DIR) -> list[str]:
    created: list[str] = []
    insurers_data = _read("insurers", directory)
    products_data = _read("products", directory)
    riders_data = _read("riders", directory)
    with acting_as(actor):
        insurers = {}
        for code, names in insurers_data.items():
            insurer = Insurer.objects.filter(code=code).first()
            if insurer is None:
                insurer = Insurer.objects.create(
                    code=code, name_zh=names["zh"], name_en=names["en"]
                )
                created.append(f"insurer {code}")
            insurers[code] = insurer

        products = {}
        for position, spec in enumerate(products_data):
            product = Product.objects.filter(code=spec["code"]).first()
            if product is None:
                ip_types = spec.get("ip_types") or []
                product = Product.objects.create(
                    code=spec["code"],
                    name_zh=spec["zh"],
                    name_en=spec["en"],
                    summary_zh=_bilingual(spec.get("summary"))["zh"],
                    summary_en=_bilingual(spec.get("summary"))["en"],
                    liability_class=spec["liability_class"],
                    function_class=spec["function_class"],
                    ip_types=ALL_IP_TYPES if "all" in ip_types else ip_types,
                    party=spec["party"],
                    position=position,
                )
                shares = spec.get("co_insurance") or {}
                for code in spec.get("insurers", []):
                    share = shares.get(code)
                    ProductInsurer.objects.create(
                        product=product,
                        insurer=insurers[code],
                        share=None if share is None else Decimal(str(share)),
                    )
                created.append(f"product {product.code}")
            products[product.code] = product

        riders = {}
        for spec in riders_data:
            rider = Rider.objects.filter(code=spec["code"]).first()
            if rider is None:
                rider = Rider.objects.create(
                    code=spec["code"],
                    name_zh=spec["zh"],
                    name_en=spec["en"],
                    summary_zh=_bilingual(spec.get("summary"))["zh"],
                    summary_en=_bilingual(spec.get("summary"))["en"],
                )
                rider.main_products.add(
                    *[products[c] for c in spec.get("main", []) if c in products]
                )
                rider.insurers.add(
                    *[insurers[c] for c in spec.get("insurers", []) if c in insurers]
                )
                created.append(f"rider {rider.code}")
            riders[rider.code] = rider

        for spec in riders_data:
            rider = riders[spec["code"]]
            _ensure_clause(rider, spec.get("clause"), actor, riders, created)
            if (
                rider.status == ProductStatus.DRAFT
                and rider.clause_versions.filter(status=ClauseStatus.PUBLISHED).exists()
            ):
                services.rider_publish(rider=rider, actor=actor)
        for spec in products_data:
            product = products[spec["code"]]
            _ensure_clause(product, spec.get("clause"), actor, riders, created)
            if (
                product.status == ProductStatus.DRAFT
                and product.clause_versions.filter(status=ClauseStatus.PUBLISHED).exists()
            ):
                services.product_publish(product=product, actor=actor)
    return created
