"""The public product catalogue: list, product pages and the indicative premium calculator."""

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from portal.errors import DomainError
from underwriting import catalogue_cache, rating, selectors, services
from underwriting.forms import PremiumForm, ProductFilterForm

PAGE_SIZE = 24


def _htmx_aware(response):
    # The same URL answers with a page or with a fragment: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
def product_list(request):
    form = ProductFilterForm(request.GET or None)
    key = catalogue_cache.results_key(request.GET, get_language())
    results = catalogue_cache.get(key)
    if results is None:
        filters = form.filters()
        products = selectors.published_products(**filters)
        page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
        results = render_to_string(
            "underwriting/_product_results.html",
            {"page": page, "filtered": any(filters.values())},
            request,
        )
        catalogue_cache.put(key, results)
    if request.htmx:
        return _htmx_aware(HttpResponse(results))
    context = {"form": form, "results": mark_safe(results)}  # noqa: S308 - our own rendering
    return _htmx_aware(render(request, "underwriting/product_list.html", context))


def _product_context(product, version, *, form=None, quote=None, error=None) -> dict:
    return {
        "product": product,
        "version": version,
        "insurer_shares": list(product.insurer_shares.all()),
        "riders": list(selectors.riders_offered(product)) if version is not None else [],
        "form": form if form is not None else (PremiumForm(version) if version else None),
        "quote": quote,
        "quote_error": error,
    }


@require_GET
def product_detail(request, code):
    product = selectors.published_product(code)
    version = selectors.current_clause_version(product)
    return render(request, "underwriting/product_detail.html", _product_context(product, version))


def _present_quote(version, breakdown: rating.PremiumBreakdown) -> dict:
    """The breakdown with names and labels in the active language, for the template."""
    sections = {s.code: s for s in version.rating_sections.all()}
    tables = {t.code: t for t in version.coefficient_tables.all()}
    options = {(t.code, o.code): o for t in tables.values() for o in t.options.all()}
    riders = {f.rider.code: f.rider for f in version.rider_factors.all()}
    section_rows = []
    for result in breakdown.sections:
        section = sections.get(result.code)
        section_rows.append(
            {
                "name": section.name if section else result.code,
                "per_item": bool(section and section.per_item),
                "limit": result.limit,
                "base_rate": result.base_rate,
                "count": result.count,
                "coefficients": [
                    {
                        "table": tables[c.table].name if c.table in tables else c.table,
                        "option": (
                            options[(c.table, c.option)].label
                            if (c.table, c.option) in options
                            else c.option
                        ),
                        "factor": c.factor,
                    }
                    for c in result.coefficients
                ],
                "coefficient_product": result.coefficient_product,
                "premium": result.premium,
            }
        )
    rider_rows = [
        {
            "name": riders[r.code].name if r.code in riders else r.code,
            "code": r.code,
            "factor": r.factor,
        }
        for r in breakdown.riders
    ]
    return {"breakdown": breakdown, "sections": section_rows, "riders": rider_rows}


@require_http_methods(["GET", "POST"])
def product_premium(request, code):
    """Price the answers of the calculator. Nothing is stored; bad answers get a message."""
    product = selectors.published_product(code)
    if request.method == "GET":
        return redirect("underwriting:product_detail", code=product.code)
    version = selectors.current_clause_version(product)
    if version is None:
        raise Http404
    form = PremiumForm(version, data=request.POST)
    quote = error = None
    if form.is_valid():
        try:
            breakdown = services.premium_quote(version=version, **form.quote_arguments())
        except DomainError as problem:
            error = problem.message
        except rating.RatingError:
            error = _("The premium cannot be calculated from these answers.")
        else:
            quote = _present_quote(version, breakdown)
    else:
        error = _("Please check your answers.")
    if request.htmx:
        context = {"form": form, "quote": quote, "quote_error": error, "product": product}
        return _htmx_aware(render(request, "underwriting/_premium_result.html", context))
    context = _product_context(product, version, form=form, quote=quote, error=error)
    return _htmx_aware(render(request, "underwriting/product_detail.html", context))
