"""Reads of the public catalogue, already prefetched so a page costs the same whatever the size."""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from underwriting.choices import ClauseStatus, ProductStatus
from underwriting.models import (
    ClauseVersion,
    CoefficientTable,
    Insurer,
    Product,
    ProductInsurer,
    Rider,
    RiderFactor,
)


def _insurer_shares():
    return Prefetch(
        "insurer_shares",
        queryset=ProductInsurer.objects.select_related("insurer").order_by("insurer__code"),
    )


def published_products(
    *,
    ip_type: str | None = None,
    liability_class: str | None = None,
    function_class: str | None = None,
    insurer: str | None = None,
):
    """Published products for the catalogue, each filter optional and combinable."""
    products = Product.objects.filter(status=ProductStatus.PUBLISHED)
    if ip_type:
        products = products.filter(ip_types_index__contains=f"|{ip_type}|")
    if liability_class:
        products = products.filter(liability_class=liability_class)
    if function_class:
        products = products.filter(function_class=function_class)
    if insurer:
        # One ProductInsurer row per (product, insurer): the join cannot repeat a product.
        products = products.filter(insurer_shares__insurer__code=insurer)
    return products.prefetch_related(_insurer_shares()).order_by("position", "code")


def catalogue_insurers():
    """Insurers that write at least one published product, for the catalogue's filter."""
    return (
        Insurer.objects.filter(
            pk__in=ProductInsurer.objects.filter(product__status=ProductStatus.PUBLISHED).values(
                "insurer_id"
            )
        )
        .only("code", "name_zh", "name_en")
        .order_by("code")
    )


def published_product(code: str) -> Product:
    """A published product by code with its insurers; 404 for unknown, draft or withdrawn."""
    return get_object_or_404(
        Product.objects.filter(status=ProductStatus.PUBLISHED).prefetch_related(_insurer_shares()),
        code=code,
    )


def current_clause_version(product: Product) -> ClauseVersion | None:
    """The wording the product is sold under now: its published version with the highest number,
    with the rating tables and the factors of published riders."""
    return (
        ClauseVersion.objects.filter(product=product, status=ClauseStatus.PUBLISHED)
        .order_by("-number")
        .prefetch_related(
            "rating_sections",
            Prefetch(
                "coefficient_tables",
                queryset=CoefficientTable.objects.prefetch_related("options"),
            ),
            Prefetch(
                "rider_factors",
                queryset=RiderFactor.objects.filter(rider__status=ProductStatus.PUBLISHED)
                .select_related("rider")
                .order_by("rider__code"),
            ),
        )
        .first()
    )


def riders_offered(product: Product):
    """Published riders that can be added to the product."""
    return Rider.objects.filter(status=ProductStatus.PUBLISHED, main_products=product).order_by(
        "code"
    )
