"""Catalogue builders for the public pages' tests: products published through the services."""

from datetime import date
from decimal import Decimal

from underwriting import services
from underwriting.catalogue_cache import catalogue_changed
from underwriting.choices import ProductStatus
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

SHORT_RATES = [10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95, 100]


def bi(zh: str, en: str) -> dict:
    return {"zh": zh, "en": en}


def exclusion(n: int) -> dict:
    return {
        "title": bi(f"除外责任标题{n}", f"Exclusion title {n}"),
        "text": bi(f"条款原文第{n}条", f"Clause wording number {n}"),
        "explanation": bi(f"通俗解释第{n}条", f"Plain explanation number {n}"),
    }


def wording(*, exclusions: int = 6, **overrides) -> dict:
    fields = {
        "label": "2025版",
        "effective_date": date(2025, 1, 1),
        "insured_object": bi(
            "保险单列明的被保险专利", "The insured patents listed in the schedule"
        ),
        "covered_causes": [
            {
                "title": bi("立案前调查取证", "Pre-filing investigation"),
                "text": bi("调查取证费用", "Costs of gathering evidence"),
            },
            {
                "title": bi("提起诉讼或仲裁", "Suing or arbitrating"),
                "text": bi("律师费等法律费用", "Legal costs such as lawyers' fees"),
            },
        ],
        "exclusions": [exclusion(n) for n in range(1, exclusions + 1)],
        "obligations": [bi("如实告知", "Answer the insurer's questions truthfully")],
        "claim_documents": [
            {"code": "policy", "zh": "保险单正本", "en": "Original policy", "required": True},
            {
                "code": "evidence",
                "zh": "侵权证据材料",
                "en": "Evidence of infringement",
                "required": False,
            },
        ],
        "deductible_rules": bi("每次事故免赔率10%", "A 10 % deductible for each event"),
        "short_rate_table": list(SHORT_RATES),
        "minimum_premium": Decimal("1000.00"),
    }
    fields.update(overrides)
    return fields


def insurer(code: str = "PICC", zh: str = "人保财险", en: str = "PICC P&C") -> Insurer:
    found = Insurer.objects.filter(code=code).first()
    return found or Insurer.objects.create(code=code, name_zh=zh, name_en=en)


def product_row(
    *,
    code: str,
    ip_types=("patent",),
    liability_class: str = "expense",
    function_class: str = "protection",
    party: str = "rights_holder",
    name_zh: str | None = None,
    name_en: str | None = None,
    insurers=None,
) -> Product:
    """A draft product with its insurers (a list of Insurer or (Insurer, share) pairs)."""
    product = Product.objects.create(
        code=code,
        name_zh=name_zh or f"产品{code}",
        name_en=name_en or f"Product {code}",
        summary_zh=f"{code}的简介",
        summary_en=f"Summary of {code}",
        liability_class=liability_class,
        function_class=function_class,
        ip_types=list(ip_types),
        party=party,
    )
    for item in insurers or [insurer()]:
        row, share = item if isinstance(item, tuple) else (item, None)
        ProductInsurer.objects.create(product=product, insurer=row, share=share)
    return product


def published_product(*, actor, code: str, exclusions: int = 6, **kwargs) -> Product:
    """A product published the way a product manager does it, with a one-section rating table."""
    product = product_row(code=code, **kwargs)
    version = services.clause_version_create_draft(
        actor=actor, product=product, **wording(exclusions=exclusions)
    )
    RatingSection.objects.create(
        clause_version=version,
        code="legal",
        name_zh="法律费用",
        name_en="Legal costs",
        base_rate=Decimal("0.05"),
        limit_options=["100000", "200000"],
    )
    services.clause_version_publish(version=version, actor=actor)
    return services.product_publish(product=product, actor=actor)


def published_rider(*, actor, code: str, main: list[Product], name_en: str) -> Rider:
    rider = Rider.objects.create(
        code=code,
        name_zh=f"附加险{code}",
        name_en=name_en,
        summary_zh=f"{code}附加险简介",
        summary_en=f"What {name_en} adds",
    )
    rider.main_products.add(*main)
    version = services.clause_version_create_draft(actor=actor, rider=rider, **wording())
    services.clause_version_publish(version=version, actor=actor)
    return services.rider_publish(rider=rider, actor=actor)


def _table(version, code, zh, en, options, position):
    table = CoefficientTable.objects.create(
        clause_version=version, code=code, name_zh=zh, name_en=en, position=position
    )
    for index, (option_code, label_zh, label_en, factor, default) in enumerate(options):
        CoefficientOption.objects.create(
            table=table,
            code=option_code,
            label_zh=label_zh,
            label_en=label_en,
            factor=Decimal(factor),
            is_default=default,
            position=index,
        )
    return table


def patent_enforcement_product(*, actor, code: str = "PAT-ENF-T") -> Product:
    """The golden case: investigation 4.9 % and legal 5.0 % per patent, industry, annual sales
    and management coefficients, a minimum premium of 1,000 and one priced rider (× 1.15)."""
    picc = insurer("PICC", "中国人民财产保险股份有限公司", "PICC Property and Casualty")
    pingan = insurer("PINGAN", "中国平安财产保险股份有限公司", "Ping An P&C")
    product = product_row(
        code=code,
        name_zh="专利执行保险",
        name_en="Patent enforcement insurance",
        insurers=[(picc, Decimal("60")), (pingan, Decimal("40"))],
    )
    rider = Rider.objects.create(
        code="R-ADVANCE-T",
        name_zh="诉讼费用预付附加险",
        name_en="Advance of legal costs rider",
        summary_zh="提前支付诉讼费用。",
        summary_en="Pays legal costs in advance.",
    )
    rider.main_products.add(product)
    rider_version = services.clause_version_create_draft(actor=actor, rider=rider, **wording())
    services.clause_version_publish(version=rider_version, actor=actor)
    services.rider_publish(rider=rider, actor=actor)

    version = services.clause_version_create_draft(
        actor=actor,
        product=product,
        **wording(exclusions=8, minimum_premium=Decimal("1000.00")),
    )
    RatingSection.objects.create(
        clause_version=version,
        code="investigation",
        name_zh="调查费用",
        name_en="Investigation costs",
        base_rate=Decimal("0.049"),
        per_item=True,
        limit_options=["50000", "100000", "200000"],
        position=0,
    )
    RatingSection.objects.create(
        clause_version=version,
        code="legal",
        name_zh="法律费用",
        name_en="Legal costs",
        base_rate=Decimal("0.050"),
        per_item=True,
        limit_options=["150000", "300000", "500000"],
        position=1,
    )
    _table(
        version,
        "industry",
        "行业",
        "Industry",
        [
            ("electronic_information", "电子信息", "Electronic information", "0.9", True),
            ("biotech_medicine", "生物与新医药", "Biotechnology and new medicine", "1.3", False),
            ("high_tech_services", "高技术服务", "High-tech services", "0.65", False),
        ],
        0,
    )
    _table(
        version,
        "annual_sales",
        "年销售额",
        "Annual sales",
        [
            ("le_10m", "1000万元及以下", "CNY 10 million or less", "0.8", True),
            ("gt_10m", "1000万元以上", "Over CNY 10 million", "1.0", False),
        ],
        1,
    )
    _table(
        version,
        "management",
        "知识产权管理",
        "IP management",
        [
            ("basic", "基本", "Basic", "1.0", True),
            ("certified", "通过贯标认证", "Certified to the IP management standard", "0.5", False),
        ],
        2,
    )
    RiderFactor.objects.create(clause_version=version, rider=rider, factor=Decimal("1.15"))
    services.clause_version_publish(version=version, actor=actor)
    return services.product_publish(product=product, actor=actor)


def bulk_published_products(count: int, *, insurers: list[Insurer], prefix: str = "BULK"):
    """Many published products in two queries (no clause versions: the list does not need them)."""
    products = Product.objects.bulk_create(
        [
            Product(
                code=f"{prefix}-{n:04d}",
                name_zh=f"批量产品{n}",
                name_en=f"Bulk product {n}",
                summary_zh="简介",
                summary_en="Summary",
                liability_class="expense",
                function_class="protection",
                ip_types=["patent", "trademark"],
                ip_types_index="|patent|trademark|",
                party="rights_holder",
                status=ProductStatus.PUBLISHED,
                position=n,
            )
            for n in range(count)
        ]
    )
    ProductInsurer.objects.bulk_create(
        [ProductInsurer(product=p, insurer=i) for p in products for i in insurers]
    )
    # bulk_create sends no signals: say what a save would have said.
    catalogue_changed()
    return products
