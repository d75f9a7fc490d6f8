"""The referral queue prints pieces it keeps between requests (portal.admin_base: the filter
sidebar, the search form, the pagination, the table around the rows, the form media) and reads
its rows' firm, product and underwriter as columns (QueueChangeList). Each page must still be the
page Django renders: the same request is rendered a second time by Django's own ChangeList,
change_list.html and Media, rows loading their related objects as Django would, and the two
pages must be the same bytes but for the CSRF token's mask."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.views.main import ChangeList
from django.forms import Media
from django.urls import reverse
from django.utils import timezone

from portal.admin_base import KeptMedia
from tests.factories import FirmFactory, UserFactory
from tests.underwriting.admin_helpers import login
from underwriting import services
from underwriting.admin import ApplicationAdmin
from underwriting.choices import ApplicationStatus
from underwriting.models import Application, Product

QUEUE = reverse("admin:underwriting_application_changelist")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
HOSTILE = '<b>Tom & "Jerry"</b>'
CURRENT_PAGE = '<a role="button" href="" aria-current="page">1</a>'


def without_csrf(html: str) -> str:
    # Django masks the CSRF token anew each time it is printed.
    return CSRF.sub('name="csrfmiddlewaretoken" value=""', html)


@pytest.fixture
def queue(seeded_catalogue, db, underwriter):
    """60 referred applications (two pages of 50) of two products and three firms, one with a
    name to escape; some assigned, of different ages; and a few quoted ones."""
    products = list(Product.objects.order_by("code")[:2])
    versions = {product.pk: services.current_clause_version(product) for product in products}
    firms = [
        FirmFactory(name_zh="甲公司", name_en="Firm A"),
        FirmFactory(name_zh="乙公司", name_en=""),
        FirmFactory(name_zh=HOSTILE, name_en=HOSTILE),
    ]
    colleague = UserFactory(email="colleague@example.test", full_name="", is_staff=True)
    applicant = UserFactory(email="applicant@example.test")
    rows = []
    for n in range(66):
        product = products[n % 2]
        rows.append(
            Application(
                firm=firms[n % 3],
                product=product,
                clause_version=versions[product.pk],
                created_by=applicant,
                status=ApplicationStatus.QUOTED if n >= 60 else ApplicationStatus.REFERRED,
                assigned_to=(None, underwriter, colleague)[n % 3],
                rule_results=[{"code": "a"}] * (n % 4),
                sum_insured=Decimal("1234567.5") if n % 5 else Decimal("0"),
            )
        )
    Application.objects.bulk_create(rows)
    for n, application in enumerate(Application.objects.order_by("id")):
        Application.objects.filter(pk=application.pk).update(
            status_changed_at=timezone.now() - timedelta(days=n % 11, hours=1)
        )
    return products


def page(client, query: str):
    response = client.get(f"{QUEUE}?{query}" if query else QUEUE)
    assert response.status_code == 200, query
    return response


def django_page(response, monkeypatch) -> str:
    """The same request rendered by Django's own changelist: ChangeList (row links reversed
    and resolved, no kept pieces, rows loading their firm, product and user), Django's
    change_list.html, plain Media. ApplicationAdmin's own queryset, ordering, filters and list
    methods stay: they are what the page shows, not how it prints it."""
    request = response.wsgi_request
    model_admin = response.context["cl"].model_admin
    with monkeypatch.context() as patch:
        patch.setattr(ApplicationAdmin, "get_changelist", lambda self, request, **kw: ChangeList)
        patch.setattr(ApplicationAdmin, "change_list_template", "admin/change_list.html")
        stock = super(ApplicationAdmin, model_admin).changelist_view(request)
        stock.render()
    return stock.content.decode()


def assert_djangos(response, monkeypatch):
    ours = response.content.decode()
    assert without_csrf(ours) == without_csrf(django_page(response, monkeypatch))
    return ours


QUERIES = [
    "",
    "status__exact=referred",
    "status__exact=referred&p=2",
    "status__exact=referred&o=-2.5",
    "o=1&status__exact=referred",
    "product__id__exact={product}",
    "status__exact=referred&product__id__exact={product}&assigned=me&age=2to7",
    "q=%E7%94%B2%E5%85%AC%E5%8F%B8",
    "q=" + "%3Cb%3ETom+%26+%22Jerry%22%3C%2Fb%3E&status__exact=referred",
    "q=nobody",
    "status__exact=quoted&_facets=1",
    "assigned=none&p=1&o=6",
]


@pytest.mark.parametrize("query", QUERIES)
def test_the_queue_is_the_page_django_renders(queue, underwriter, client, monkeypatch, query):
    query = query.format(product=queue[0].pk)
    login(client, underwriter)
    for language in ("en", "zh-hans"):
        client.cookies["portal_language"] = language
        response = page(client, query)
        first = assert_djangos(response, monkeypatch)
        # The second visit prints the kept pieces.
        again = assert_djangos(page(client, query), monkeypatch)
        assert without_csrf(again) == without_csrf(first)
        assert bool(response.context["cl"].result_list) == ("nobody" not in query)
    if not query:
        assert "&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;" in first


def test_the_same_filters_in_another_order(queue, underwriter, client, monkeypatch):
    """The search form repeats the parameters in the URL's order: one kept form per order."""
    login(client, underwriter)
    for query in ("status__exact=referred&o=1&age=gt7", "age=gt7&o=1&status__exact=referred"):
        assert_djangos(page(client, query), monkeypatch)


def test_row_links_keep_the_filters_as_django_does(queue, underwriter, client, monkeypatch):
    login(client, underwriter)
    response = page(client, "status__exact=referred&age=gt7")
    html = assert_djangos(response, monkeypatch)
    first = response.context["cl"].result_list[0]
    change = reverse("admin:underwriting_application_change", args=[first.pk])
    assert f'<a href="{change}?_changelist_filters=status__exact%3Dreferred%26age%3Dgt7">' in html


def test_a_renamed_product_shows_at_once(queue, underwriter, client, monkeypatch):
    login(client, underwriter)
    product = queue[0]
    assert product.name_en in page(client, "status__exact=referred").content.decode()
    product.name_en = "Renamed <patent> cover"
    product.save(update_fields=["name_en"])
    html = assert_djangos(page(client, "status__exact=referred"), monkeypatch)
    assert "Renamed &lt;patent&gt; cover" in html


def test_counts_show_at_once(queue, underwriter, client, monkeypatch):
    """The counts of the filters (with "Show counts"), of the search form and the pagination
    follow every change of the rows."""
    login(client, underwriter)
    facets = "status__exact=referred&_facets=1"
    before = assert_djangos(page(client, facets), monkeypatch)
    assert "Quoted (6)" in before and "60 results" in before
    assert CURRENT_PAGE in before
    Application.objects.filter(
        pk__in=Application.objects.filter(status=ApplicationStatus.REFERRED).values("pk")[:11]
    ).update(status=ApplicationStatus.QUOTED)
    after = assert_djangos(page(client, facets), monkeypatch)
    assert "Quoted (17)" in after and "49 results" in after
    # 49 rows fit on one page: the page links are gone.
    plain = assert_djangos(page(client, "status__exact=referred"), monkeypatch)
    assert "49 results" in plain and CURRENT_PAGE not in plain


def test_the_queue_works_when_the_cache_is_unreachable(queue, underwriter, client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise ConnectionError("cache down")

    for name in ("get", "set", "add", "delete_many"):
        monkeypatch.setattr(f"portal.quiet_cache.cache.{name}", unreachable)
    login(client, underwriter)
    for query in ("status__exact=referred", "product__id__exact={product}", ""):
        query = query.format(product=queue[1].pk)
        for _visit in range(2):
            assert_djangos(page(client, query), monkeypatch)


def test_an_odd_query_string_is_rendered_not_kept(queue, underwriter, client, monkeypatch):
    from portal import admin_base

    login(client, underwriter)
    kept = len(admin_base._KEPT)
    query = "q=" + "x" * 2000
    for _visit in range(2):
        assert_djangos(page(client, query), monkeypatch)
    assert len(admin_base._KEPT) == kept


@pytest.mark.parametrize("nonce", [None, "r4nd0m-N_nce", '"><script>'])
def test_kept_media_renders_as_djangos_media(nonce):
    from django.contrib import admin

    media = admin.site._registry[Application].media + Media(
        css={"all": ["a.css"], "print": ["p.css"]}, js=["extra.js"]
    )
    attrs = {"nonce": nonce} if nonce is not None else None
    for _visit in range(2):
        kept = KeptMedia.of(media)
        for kind in ("js", "css"):
            assert kept[kind].render(attrs=attrs) == media[kind].render(attrs=attrs)
        assert str(kept["js"]) == str(media["js"])
    other = KeptMedia.of(Media(js=["other.js"]))
    assert other["js"].render(attrs=attrs) == Media(js=["other.js"])["js"].render(attrs=attrs)
