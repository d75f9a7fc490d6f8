"""The referral queue in the Django admin: underwriters review, assign, set terms, decline and ask;
senior underwriters approve quotes above an underwriter's authority; claims handlers only look;
applicants never get in. Applications are built through the services, as an applicant would."""

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.choices import LegalStatus
from tests.factories import IPAssetFactory, UserFactory
from underwriting import services
from underwriting.choices import ApplicationStatus, QuestionnaireKind, QuoteStatus
from underwriting.models import (
    Application,
    ApplicationEvent,
    ClauseVersion,
    Product,
    Questionnaire,
    Quote,
    UnderwriterAuthority,
    UnderwriterQuestion,
    UnderwritingRule,
)

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"
CENT = Decimal("0.01")

# Answers the fixture prefers; any other question gets a harmless first option (see answers_for).
RISK_ANSWERS = {
    "industry": "electronic_information",
    "annual_sales": "5000000",
    "sales_regions": ["cn", "us_ca"],
    "group_scheme": "individual",
    "management": "basic",
    "fto_report": "provided",
    "suits_last_5_years": "0",
    "known_dispute": "false",
    "warning_letters": "false",
    "invalidation_requests": "false",
    "npe_exposure": "false",
}
VALUATION_ANSWERS = {
    "invalidation_history": "none",
    "claim_type": "product",
    "non_circumventability": "4",
    "technical_maturity": "mass_production",
    "substitutes": "few",
    "market_share": "8",
    "revenue_attributable": "6000000",
    "licensing": "none",
    "royalty_rate": "5",
    "economic_life": "8",
    "discount_rate": "10",
    "growth_rate": "3",
    "rd_cost": "1500000",
    "obsolescence": "10",
}
# Used only when the catalogue seed does not (yet) bring a risk questionnaire.
FALLBACK_RISK_QUESTIONS = [
    {
        "code": "industry",
        "kind": "choice",
        "label": {"zh": "贵企业的主营业务属于哪个行业？", "en": "Which industry are you in?"},
        "options": [
            {"code": "electronic_information", "label": {"zh": "电子信息", "en": "Electronics"}},
            {"code": "other", "label": {"zh": "其他行业", "en": "Another industry"}},
        ],
        "rating": {"input": "industry"},
    },
    {
        "code": "annual_sales",
        "kind": "number",
        "label": {"zh": "上一年度营业收入？", "en": "Revenue last year?"},
        "min": 0,
        "rating": {"input": "annual_sales"},
    },
    {
        "code": "sales_regions",
        "kind": "multi",
        "label": {"zh": "产品在哪些地区销售？", "en": "Where are your products sold?"},
        "options": [
            {"code": "cn", "label": {"zh": "中国大陆", "en": "Mainland China"}},
            {"code": "us_ca", "label": {"zh": "美国或加拿大", "en": "The US or Canada"}},
        ],
    },
    {
        "code": "management",
        "kind": "choice",
        "label": {"zh": "专利管理水平？", "en": "Patent management?"},
        "options": [
            {"code": "sound", "label": {"zh": "健全", "en": "Sound"}},
            {"code": "basic", "label": {"zh": "基本", "en": "Basic"}},
        ],
        "rating": {"table": "management"},
    },
]


def answers_for(questions, preferred: dict) -> dict:
    """An answer to every question: the preferred one, else the first option / the minimum."""
    answers = {}
    for question in questions:
        code, kind = question["code"], question.get("kind", "text")
        if code in preferred:
            answers[code] = preferred[code]
        elif kind == "choice":
            answers[code] = str(question["options"][0]["code"])
        elif kind == "multi":
            answers[code] = [str(question["options"][0]["code"])]
        elif kind in ("number", "integer"):
            answers[code] = str(question["min"] if question.get("min") is not None else 1)
        elif kind == "boolean":
            answers[code] = "false"
        elif kind == "date":
            answers[code] = timezone.localdate().isoformat()
        else:
            answers[code] = "无"
    return answers


def staff(email: str, *groups: str):
    user = UserFactory(email=email, is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=groups))
    TOTP.activate(user, TOTP_SECRET)
    return user


def login(client, user):
    client.force_login(user)
    client.cookies["portal_language"] = "en"
    return client


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def url(name: str, *args) -> str:
    return reverse(f"admin:underwriting_{name}", args=args)


# --- Fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """PAT-ENF as the seed publishes it (shared by the module), with a risk questionnaire and
    a rule that refers sales in the US (created here when the seed does not bring them)."""
    product = Product.objects.get(code="PAT-ENF")
    version = services.current_clause_version(product)
    assert version is not None
    if not Questionnaire.objects.filter(clause_version=version, kind=QuestionnaireKind.RISK):
        Questionnaire.objects.create(
            clause_version=version, kind=QuestionnaireKind.RISK, questions=FALLBACK_RISK_QUESTIONS
        )
    refers_usa = any(
        any(c.get("fact") == "sales_usa" for c in rule.conditions)
        for rule in UnderwritingRule.objects.filter(product=product, active=True, outcome="refer")
    )
    if not refers_usa:
        UnderwritingRule.objects.create(
            product=product,
            code="usa",
            outcome="refer",
            conditions=[{"fact": "sales_usa", "op": "truthy"}],
            reason_zh="产品在美国或加拿大销售，需要核保人员审核。",
            reason_en="Products are sold in the US or Canada; an underwriter reviews.",
        )
    return product


def build_referred(product, firm, applicant) -> Application:
    """Cover, valuation (when asked), risk answers with sales in the US, declaration."""
    asset = IPAssetFactory(
        firm=firm,
        legal_status=LegalStatus.GRANTED,
        filing_date=date(2019, 3, 12),
        grant_date=date(2021, 8, 6),
        expiry_date=date(2039, 3, 12),
        claim_count=10,
        family_countries=["CN", "US"],
    )
    application = services.application_start(firm=firm, actor=applicant, product=product)
    version = application.clause_version
    limits = {}
    for section in version.rating_sections.all():
        options = section.limit_options or []
        limits[section.code] = str(options[min(1, len(options) - 1)]) if options else "100000"
    deductible = ""
    for table in version.coefficient_tables.filter(input_key="deductible_rate"):
        codes = [o.code for o in table.options.all()]
        deductible = "d10" if "d10" in codes else codes[0]
    services.application_cover_save(
        application=application,
        actor=applicant,
        asset_ids=[asset.pk],
        limits=limits,
        deductible=deductible,
        wished_start=timezone.localdate() + timedelta(days=10),
    )
    questionnaires = {q.kind: q.questions for q in version.questionnaires.all()}
    for step in services.application_steps(application):
        if step["key"].startswith("valuation-"):
            services.application_valuation_save(
                application=application,
                actor=applicant,
                asset_id=step["asset"].asset_id,
                answers=answers_for(questionnaires[QuestionnaireKind.VALUATION], VALUATION_ANSWERS),
            )
    services.application_risk_save(
        application=application,
        actor=applicant,
        answers=answers_for(questionnaires[QuestionnaireKind.RISK], RISK_ANSWERS),
    )
    services.application_submit(application=application, actor=applicant, declaration=True)
    application.refresh_from_db()
    return application


@pytest.fixture
def referred(catalogue, firm_a, applicant_a) -> Application:
    application = build_referred(catalogue, firm_a, applicant_a)
    assert application.status == ApplicationStatus.REFERRED, application.rule_results
    return application


@pytest.fixture
def authority(underwriter):
    return UnderwriterAuthority.objects.create(
        user=underwriter, max_sum_insured=Decimal("1000000"), max_adjustment_percent=Decimal("20")
    )


@pytest.fixture
def senior(db):
    user = staff("senior@example.test", "underwriter", "senior_underwriter")
    UnderwriterAuthority.objects.create(
        user=user, max_sum_insured=Decimal("20000000"), max_adjustment_percent=Decimal("40")
    )
    return user


def terms_data(application, *, adjustment="0", limits=None, exclusions=(), note=""):
    data = {
        "adjustment_percent": adjustment,
        "note": note,
        "exclusions-TOTAL_FORMS": str(max(len(exclusions), 1)),
        "exclusions-INITIAL_FORMS": "0",
        "exclusions-MIN_NUM_FORMS": "0",
        "exclusions-MAX_NUM_FORMS": "1000",
    }
    for code, value in {**application.limits, **(limits or {})}.items():
        data[f"limit_{code}"] = str(value)
    for n, exclusion in enumerate(exclusions):
        for key, value in exclusion.items():
            data[f"exclusions-{n}-{key}"] = value
    return data


EXCLUSION = {
    "title_zh": "美国境内的侵权",
    "title_en": "",
    "text_zh": "保险人不负责赔偿在美国境内发生的侵权所产生的费用。",
    "text_en": "",
    "explanation_zh": "在美国发生的侵权不在保障范围内。",
    "explanation_en": "",
}


# --- The queue ----------------------------------------------------------------------------------


def listed(client, **params) -> list[int]:
    response = client.get(url("application_changelist"), params)
    assert response.status_code == 200
    return [a.pk for a in response.context["cl"].result_list]


def test_queue_lists_the_referral_and_its_filters_work(referred, underwriter, client):
    login(client, underwriter)
    page = client.get(url("application_changelist"))
    assert page.status_code == 200
    assert referred.reference in page.content.decode()
    assert referred.pk in listed(client, status__exact="referred")
    assert referred.pk not in listed(client, status__exact="quoted")
    assert referred.pk in listed(client, product__id__exact=referred.product_id)
    assert referred.pk in listed(client, assigned="none")
    assert referred.pk not in listed(client, assigned="me")
    services.application_assign(application=referred, actor=underwriter)
    assert referred.pk in listed(client, assigned="me")
    assert referred.pk not in listed(client, assigned="none")

    assert referred.pk in listed(client, age="lt2")
    assert referred.pk not in listed(client, age="2to7")
    Application.objects.filter(pk=referred.pk).update(
        status_changed_at=timezone.now() - timedelta(days=4, hours=1)
    )
    assert referred.pk in listed(client, age="2to7")
    Application.objects.filter(pk=referred.pk).update(
        status_changed_at=timezone.now() - timedelta(days=10, hours=1)
    )
    assert referred.pk in listed(client, age="gt7")
    assert referred.pk not in listed(client, age="lt2")

    for term in (
        referred.firm.name_zh,
        referred.firm.uscc,
        str(referred.pk),
        referred.reference,
    ):
        assert listed(client, q=term) == [referred.pk], term
    assert listed(client, q="no such firm") == []


def test_queue_shows_age_and_rule_hits_and_runs_oldest_first(referred, underwriter, client):
    older = Application.objects.create(
        firm=referred.firm,
        product=referred.product,
        clause_version=referred.clause_version,
        created_by=referred.created_by,
        status=ApplicationStatus.REFERRED,
        rule_results=[{"code": "a"}, {"code": "b"}, {"code": "c"}],
    )
    Application.objects.filter(pk=older.pk).update(
        status_changed_at=timezone.now() - timedelta(days=9, hours=2)
    )
    login(client, underwriter)
    response = client.get(url("application_changelist"), {"status__exact": "referred"})
    rows = list(response.context["cl"].result_list)
    assert [a.pk for a in rows] == [older.pk, referred.pk]
    html = response.content.decode()
    assert '<td class="field-age">9</td>' in html
    assert '<td class="field-rule_hits">3</td>' in html
    assert f'<td class="field-rule_hits">{len(referred.rule_results)}</td>' in html


def test_queue_rows_link_to_the_change_page_keeping_the_filters(referred, underwriter, client):
    login(client, underwriter)
    change = url("application_change", referred.pk)
    filtered = client.get(
        url("application_changelist"), {"status__exact": "referred", "age": "lt2"}
    )
    html = filtered.content.decode()
    assert f'<a href="{change}?_changelist_filters=status__exact%3Dreferred%26age%3Dlt2">' in html
    # Back from the change page, the list opens with the same filters.
    back = client.get(f"{change}?_changelist_filters=status__exact%3Dreferred%26age%3Dlt2")
    assert "status__exact=referred" in back.content.decode().replace("&amp;", "&")
    unfiltered = client.get(url("application_changelist")).content.decode()
    assert f'<a href="{change}">' in unfiltered


def queue_queries(client) -> list[int]:
    counts = []
    for params in (
        {},
        {"status__exact": "referred"},
        {"assigned": "me", "age": "lt2", "q": "公司"},
    ):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url("application_changelist"), params)
        assert response.status_code == 200
        counts.append(len(queries))
    return counts


def test_queue_costs_the_same_queries_for_10_and_1000_rows(referred, underwriter, client):
    template = {
        "firm": referred.firm,
        "product": referred.product,
        "clause_version": referred.clause_version,
        "created_by": referred.created_by,
        "status": ApplicationStatus.REFERRED,
        "rule_results": referred.rule_results,
        "sum_insured": Decimal("500000"),
    }

    def add(rows):
        Application.objects.bulk_create(
            [
                Application(**template, assigned_to=underwriter if n % 2 else None)
                for n in range(rows)
            ]
        )

    login(client, underwriter)
    add(9)
    client.get(url("application_changelist"))  # the session and permission caches settle
    with_10 = queue_queries(client)
    add(990)
    assert Application.objects.count() == 1000
    with_1000 = queue_queries(client)
    assert with_10 == with_1000
    assert max(with_1000) <= 15, with_1000


def queue_page(client, params):
    response = client.get(url("application_changelist"), params)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status__exact": "referred"},
        {"status__exact": "referred", "age": "lt2", "assigned": "none"},
        {"q": '<b>Tom & "Jerry"</b>', "o": "-2.5"},
        {"product__id__exact": "0", "_facets": "1"},
    ],
)
def test_queue_rows_and_filters_are_the_markup_django_renders(
    referred, underwriter, client, params
):
    """The queue prints its rows and filter choices on a short path (result_rows, filter.html);
    both must give Django's own markup: cells, classes, links, escaping, the empty value."""
    from django.contrib.admin.templatetags.admin_list import admin_list_filter, result_list
    from django.template.loader import render_to_string
    from django.utils import translation

    referred.firm.name_zh = referred.firm.name_en = '<b>Tom & "Jerry"</b>'
    referred.firm.save()
    Application.objects.create(
        firm=referred.firm,
        product=referred.product,
        clause_version=referred.clause_version,
        created_by=referred.created_by,
        status=ApplicationStatus.REFERRED,
        assigned_to=underwriter,
        rule_results=[],
    )
    login(client, underwriter)
    response = queue_page(client, params)
    cl = response.context["cl"]
    html = response.content.decode()
    with translation.override("en"):
        ours = cl.result_list_html()
        assert ours == render_to_string("admin/change_list_results.html", result_list(cl))
        assert ours in html
        for spec in cl.filter_specs:
            django_markup = render_to_string(
                "admin/filter.html",
                {"title": spec.title, "choices": list(spec.choices(cl)), "spec": spec},
            )
            assert admin_list_filter(cl, spec) == django_markup, spec.title
    if len(params) < 2:
        assert "&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;" in ours
        assert '<td class="field-rule_hits">0</td>' in ours


def test_queue_sidebar_is_each_users_own(referred, underwriter, claims_handler, client):
    """The nav sidebar is rendered once per distinct set of links and language: a user who may
    see other models, or reads another language, never gets someone else's."""
    from django.template.loader import render_to_string

    pages = {}
    for user in (underwriter, claims_handler, underwriter):
        login(client, user)
        response = queue_page(client, {"status__exact": "referred"})
        context = response.context
        expected = render_to_string(
            "admin/nav_sidebar.html",
            {"available_apps": context["available_apps"], "request": response.wsgi_request},
        )
        assert context["nav_sidebar_html"] == expected
        assert expected in response.content.decode()
        pages.setdefault(user.pk, expected)
        assert pages[user.pk] == expected
    assert pages[underwriter.pk] != pages[claims_handler.pk]
    client.cookies["portal_language"] = "zh-hans"
    chinese = queue_page(client, {}).context["nav_sidebar_html"]
    assert chinese != pages[underwriter.pk]


def test_the_app_list_follows_each_users_permissions(referred, underwriter, claims_handler, client):
    """The admin's list of apps and models is remembered per set of permissions (and language):
    what each user sees is what Django would build for them, and a new permission shows at once."""
    from django.contrib import admin
    from django.contrib.auth.models import Permission

    def models_listed(user) -> set[str]:
        login(client, user)
        apps = client.get(reverse("admin:index")).context["app_list"]
        return {model["object_name"] for app in apps for model in app["models"]}

    def built_by_django(user) -> set[str]:
        request = RequestFactory().get("/admin/")
        request.user = type(user).objects.get(pk=user.pk)
        apps = admin.AdminSite.get_app_list(admin.site, request)
        return {model["object_name"] for app in apps for model in app["models"]}

    for user in (underwriter, claims_handler, underwriter, claims_handler):
        assert models_listed(user) == built_by_django(user)
    assert models_listed(underwriter) != models_listed(claims_handler)
    assert "UnderwriterAuthority" not in models_listed(claims_handler)
    claims_handler.user_permissions.add(
        Permission.objects.get(codename="view_underwriterauthority")
    )
    assert "UnderwriterAuthority" in models_listed(claims_handler)


def test_the_product_filter_follows_a_renamed_product(referred, underwriter, client):
    """The filter's product names are kept with the catalogue's version."""
    login(client, underwriter)
    product = referred.product
    assert product.name_en in queue_page(client, {}).content.decode()
    product.name_en = "Renamed patent cover"
    product.save(update_fields=["name_en"])
    assert "Renamed patent cover" in queue_page(client, {}).content.decode()


# --- The change page ----------------------------------------------------------------------------


def test_change_page_shows_the_file_read_only(referred, underwriter, client):
    login(client, underwriter)
    change = url("application_change", referred.pk)
    page = client.get(change)
    assert page.status_code == 200
    html = page.content.decode()
    assert referred.answers_sha256 in html
    # Question labels of the clause version's questionnaire, and the answers as labels.
    assert "Where are your products or services sold?" in html or (
        "Where are your products sold?" in html
    )
    assert "Mainland China" in html
    # The premium breakdown, the rule that referred it, and the timeline.
    total = Decimal(referred.rating["total"])
    assert f"{total:,.2f}" in html
    assert any(hit["code"] in html for hit in referred.rule_results)
    assert "Products are sold in the US" in html or "United States or Canada" in html
    assert 'id="uw-timeline"' in html
    assert referred.firm.name_zh in html or referred.firm.name_en in html
    if referred.valuation.get("total"):
        point = referred.insured_assets.get().valuation["point_value"]
        assert f"{Decimal(point):,.2f}" in html
    # Buttons to the action pages; no form field of the model.
    for name in ("assign", "terms", "ask", "decline"):
        assert url(f"application_{name}", referred.pk) in html
    assert 'name="limits"' not in html and 'name="status"' not in html
    assert client.post(change, {"status": "quoted"}).status_code == 403
    assert client.get(url("application_add")).status_code == 403
    assert client.get(url("application_delete", referred.pk)).status_code == 403
    assert Application.objects.get(pk=referred.pk).status == ApplicationStatus.REFERRED


def test_change_page_costs_bounded_queries(
    referred, underwriter, client, django_assert_max_num_queries
):
    login(client, underwriter)
    client.get(url("application_change", referred.pk))
    with django_assert_max_num_queries(20):
        assert client.get(url("application_change", referred.pk)).status_code == 200


# --- Underwriters' actions ----------------------------------------------------------------------


def test_assign_to_me(referred, underwriter, client):
    login(client, underwriter)
    assign = url("application_assign", referred.pk)
    assert client.get(assign).status_code == 200
    response = client.post(assign)
    assert response.status_code == 302
    assert response.url == url("application_change", referred.pk)
    referred.refresh_from_db()
    assert referred.assigned_to == underwriter
    assert ApplicationEvent.objects.filter(application=referred, actor=underwriter).exists()
    page = client.get(url("application_change", referred.pk)).content.decode()
    assert assign not in page  # already mine


def test_terms_with_a_loading_and_an_exclusion_offer_a_quote(
    referred, underwriter, authority, client
):
    login(client, underwriter)
    terms = url("application_terms", referred.pk)
    page = client.get(terms)
    assert page.status_code == 200
    html = page.content.decode()
    assert "1,000,000.00" in html and "20 %" in html  # the underwriter's own authority
    for code, value in referred.limits.items():
        assert f'name="limit_{code}"' in html and f'value="{value}"' in html  # prefilled

    response = client.post(
        terms, terms_data(referred, adjustment="10", exclusions=[EXCLUSION], note="美国销售加费")
    )
    assert response.status_code == 302, flash(response)
    quote = Quote.objects.get(application=referred)
    assert response.url == url("quote_change", quote.pk)
    assert quote.status == QuoteStatus.OFFERED
    technical = Decimal(referred.rating["total"])
    assert quote.technical_premium == technical
    assert quote.adjustment_percent == Decimal("10.00")
    assert quote.premium == (technical * Decimal("1.10")).quantize(CENT, rounding=ROUND_HALF_UP)
    assert quote.created_by == underwriter
    mine = quote.special_exclusions[-1]
    assert mine["title"] == {"zh": EXCLUSION["title_zh"], "en": ""}
    assert mine["text"]["zh"] == EXCLUSION["text_zh"]
    assert mine["explanation"]["zh"] == EXCLUSION["explanation_zh"]
    referred.refresh_from_db()
    assert referred.status == ApplicationStatus.QUOTED
    assert referred.assigned_to == underwriter
    assert any(quote.number in m for m in flash(response))

    shown = client.get(response.url).content.decode()
    assert EXCLUSION["title_zh"] in shown
    assert f"{quote.premium:,.2f}" in shown


def test_terms_form_refuses_a_half_filled_exclusion_and_shows_service_errors(
    referred, underwriter, authority, client
):
    login(client, underwriter)
    terms = url("application_terms", referred.pk)
    half = {**EXCLUSION, "text_zh": "", "explanation_zh": ""}
    response = client.post(terms, terms_data(referred, exclusions=[half]))
    assert response.status_code == 200
    assert response.context["formset"].errors[0]
    # Beyond the underwriter's 20 % the service refuses; the page says why.
    response = client.post(terms, terms_data(referred, adjustment="30"))
    assert response.status_code == 200
    assert any("20" in m for m in flash(response))
    # Every limit cleared: the form asks for one rather than keeping the old ones silently.
    cleared = terms_data(referred, limits={code: "" for code in referred.limits})
    response = client.post(terms, cleared)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    # An application that does not exist is a 404, not an error page.
    assert client.get(url("application_terms", 999999)).status_code == 404
    assert client.get(url("application_terms", "x")).status_code == 404
    # "Add another" shows one more empty exclusion and quotes nothing.
    response = client.post(terms, {**terms_data(referred), "_more_exclusions": "1"})
    assert response.status_code == 200
    assert len(response.context["formset"].forms) == 2
    assert not Quote.objects.filter(application=referred).exists()


def test_above_authority_the_quote_waits_for_a_senior_who_approves_it(
    referred, underwriter, authority, senior, client
):
    login(client, underwriter)
    section = referred.clause_version.rating_sections.order_by("position", "id").first()
    response = client.post(
        url("application_terms", referred.pk),
        terms_data(referred, adjustment="5", limits={section.code: "2000000.00"}),
    )
    assert response.status_code == 302, flash(response)
    quote = Quote.objects.get(application=referred)
    assert quote.sum_insured > authority.max_sum_insured
    assert quote.status == QuoteStatus.PENDING_APPROVAL
    assert any("senior" in m for m in flash(response))
    referred.refresh_from_db()
    assert referred.status == ApplicationStatus.REFERRED

    # The underwriter sees the quote but neither the buttons nor the pages to approve it.
    page = client.get(url("quote_change", quote.pk)).content.decode()
    assert url("quote_approve", quote.pk) not in page
    assert client.get(url("quote_approve", quote.pk)).status_code == 403
    assert client.post(url("quote_approve", quote.pk)).status_code == 403
    assert client.post(url("quote_reject", quote.pk), {"reason": "x"}).status_code == 403
    listing = client.get(url("quote_changelist"), {"status__exact": "pending_approval"})
    assert [q.pk for q in listing.context["cl"].result_list] == [quote.pk]
    assert "approve_quotes" not in listing.content.decode()

    login(client, senior)
    page = client.get(url("quote_change", quote.pk)).content.decode()
    assert url("quote_approve", quote.pk) in page
    assert "approve_quotes" in client.get(url("quote_changelist")).content.decode()
    assert client.get(url("quote_approve", quote.pk)).status_code == 200
    response = client.post(url("quote_approve", quote.pk))
    assert response.status_code == 302, flash(response)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.OFFERED
    assert quote.approved_by == senior
    referred.refresh_from_db()
    assert referred.status == ApplicationStatus.QUOTED


def test_the_author_of_a_quote_cannot_approve_it(referred, senior, client):
    # The senior's own authority is below the sum, so their own quote waits for approval...
    UnderwriterAuthority.objects.filter(user=senior).update(max_sum_insured=Decimal("500000"))
    login(client, senior)
    section = referred.clause_version.rating_sections.order_by("position", "id").first()
    client.post(
        url("application_terms", referred.pk),
        terms_data(referred, limits={section.code: "2000000.00"}),
    )
    quote = Quote.objects.get(application=referred)
    assert quote.status == QuoteStatus.PENDING_APPROVAL
    # ...and raising their authority afterwards does not let them approve it themselves.
    UnderwriterAuthority.objects.filter(user=senior).update(max_sum_insured=Decimal("20000000"))
    page = client.get(url("quote_change", quote.pk)).content.decode()
    assert url("quote_approve", quote.pk) not in page
    response = client.post(url("quote_approve", quote.pk))
    assert response.status_code == 200
    assert any("second underwriter" in m for m in flash(response))
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.PENDING_APPROVAL
    assert quote.approved_by is None


def test_a_senior_rejects_a_pending_quote_with_a_reason(
    referred, underwriter, authority, senior, client
):
    section = referred.clause_version.rating_sections.order_by("position", "id").first()
    quote = services.underwriter_quote(
        application=referred, actor=underwriter, limits={section.code: "2000000"}
    )
    assert quote.status == QuoteStatus.PENDING_APPROVAL
    login(client, senior)
    reject = url("quote_reject", quote.pk)
    response = client.post(reject, {"reason": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    response = client.post(reject, {"reason": "限额过高"})
    assert response.status_code == 302
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.REJECTED
    assert ApplicationEvent.objects.filter(application=referred, reason__contains="限额过高")


def test_decline_needs_reasons(referred, underwriter, client):
    login(client, underwriter)
    decline = url("application_decline", referred.pk)
    for empty in ("", "   "):
        response = client.post(decline, {"reasons": empty})
        assert response.status_code == 200
        assert response.context["form"].errors["reasons"]
    referred.refresh_from_db()
    assert referred.status == ApplicationStatus.REFERRED
    response = client.post(decline, {"reasons": "美国诉讼风险超出承保能力。"})
    assert response.status_code == 302
    referred.refresh_from_db()
    assert referred.status == ApplicationStatus.DECLINED
    assert referred.events.filter(reason="美国诉讼风险超出承保能力。").exists()
    # Declined: no more buttons, and the pages refuse politely through the service.
    page = client.get(url("application_change", referred.pk)).content.decode()
    assert url("application_terms", referred.pk) not in page
    response = client.post(decline, {"reasons": "again"})
    assert response.status_code == 200
    assert flash(response)


def test_ask_the_applicant(referred, underwriter, client):
    login(client, underwriter)
    ask = url("application_ask", referred.pk)
    assert client.post(ask, {"question": ""}).status_code == 200
    response = client.post(ask, {"question": "请说明美国市场的销售额。"})
    assert response.status_code == 302
    referred.refresh_from_db()
    assert referred.status == ApplicationStatus.INFO_REQUESTED
    asked = UnderwriterQuestion.objects.get(application=referred)
    assert asked.asked_by == underwriter
    page = client.get(url("application_change", referred.pk)).content.decode()
    assert "请说明美国市场的销售额。" in page
    assert url("application_terms", referred.pk) not in page


# --- Who may do what ----------------------------------------------------------------------------


def test_claims_handler_sees_applications_and_quotes_but_cannot_act(
    referred, underwriter, authority, claims_handler, client
):
    section = referred.clause_version.rating_sections.order_by("position", "id").first()
    quote = services.underwriter_quote(
        application=referred, actor=underwriter, limits={section.code: "2000000"}
    )
    login(client, claims_handler)
    assert client.get(url("application_changelist")).status_code == 200
    page = client.get(url("application_change", referred.pk))
    assert page.status_code == 200
    html = page.content.decode()
    for name in ("assign", "terms", "decline", "ask"):
        action = url(f"application_{name}", referred.pk)
        assert action not in html
        assert client.get(action).status_code == 403
        assert client.post(action, {"reasons": "x", "question": "x"}).status_code == 403
    assert client.get(url("quote_change", quote.pk)).status_code == 200
    assert client.get(url("quote_approve", quote.pk)).status_code == 403
    assert client.post(url("quote_reject", quote.pk), {"reason": "x"}).status_code == 403
    referred.refresh_from_db()
    quote.refresh_from_db()
    assert referred.status == ApplicationStatus.REFERRED and referred.assigned_to == underwriter
    assert quote.status == QuoteStatus.PENDING_APPROVAL


def test_applicant_cannot_reach_the_admin(referred, client_a):
    for target in (
        reverse("admin:index"),
        url("application_changelist"),
        url("application_change", referred.pk),
        url("application_terms", referred.pk),
    ):
        response = client_a.get(target)
        assert response.status_code == 302, target
        assert "/admin/login/" in response.url or "/accounts/" in response.url
    response = client_a.post(url("application_decline", referred.pk), {"reasons": "x"})
    assert response.status_code == 302
    referred.refresh_from_db()
    assert referred.status == ApplicationStatus.REFERRED


def test_authority_seniors_edit_underwriters_view(underwriter, authority, senior, client):
    login(client, underwriter)
    assert client.get(url("underwriterauthority_changelist")).status_code == 200
    assert client.get(url("underwriterauthority_add")).status_code == 403
    change = url("underwriterauthority_change", authority.pk)
    assert client.post(change, {"max_sum_insured": "9999999"}).status_code == 403

    login(client, senior)
    response = client.post(change, {"max_sum_insured": "3000000", "max_adjustment_percent": "25"})
    assert response.status_code == 302
    authority.refresh_from_db()
    assert authority.max_sum_insured == Decimal("3000000")
    # Nobody raises their own authority.
    own = UnderwriterAuthority.objects.get(user=senior)
    own_url = url("underwriterauthority_change", own.pk)
    assert client.post(own_url, {"max_sum_insured": "99999999"}).status_code == 403


def test_questionnaire_of_a_published_version_is_read_only(catalogue, client):
    manager = staff("pm@example.test", "product_manager")
    questionnaire = Questionnaire.objects.filter(
        clause_version=services.current_clause_version(catalogue)
    ).first()
    login(client, manager)
    change = url("questionnaire_change", questionnaire.pk)
    page = client.get(change)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="questions"' not in html
    first = questionnaire.questions[0]
    assert first["code"] in html and first["label"]["zh"] in html
    assert client.post(change, {"questions": "[]"}).status_code == 403
    assert Questionnaire.objects.get(pk=questionnaire.pk).questions == questionnaire.questions


def test_questionnaire_of_a_draft_is_edited_by_product_managers(catalogue, client):
    manager = staff("pm@example.test", "product_manager")
    draft = services.clause_version_create_draft(actor=manager, product=catalogue)
    questionnaire = Questionnaire.objects.create(
        clause_version=draft, kind=QuestionnaireKind.RISK, questions=FALLBACK_RISK_QUESTIONS
    )
    login(client, manager)
    change = url("questionnaire_change", questionnaire.pk)
    assert 'name="questions"' in client.get(change).content.decode()
    bad = client.post(change, {"questions": '[{"code": "x", "kind": "poem"}]'})
    assert bad.status_code == 200
    response = client.post(
        change,
        {"questions": '[{"code": "x", "kind": "boolean", "label": {"zh": "是否？", "en": "?"}}]'},
    )
    assert response.status_code == 302
    questionnaire.refresh_from_db()
    assert questionnaire.questions[0]["code"] == "x"
    assert len(questionnaire.sha256) == 64
    assert ClauseVersion.objects.get(pk=draft.pk).status == "draft"


def test_rules_product_managers_edit_and_everyone_reads_them_plainly(
    catalogue, underwriter, client
):
    rule = UnderwritingRule.objects.filter(product=catalogue).first()
    login(client, underwriter)
    listing = client.get(url("underwritingrule_changelist"), {"product__id__exact": catalogue.pk})
    assert listing.status_code == 200
    assert "sales_usa is yes" in listing.content.decode()
    change = url("underwritingrule_change", rule.pk)
    assert client.post(change, {"code": "hack"}).status_code == 403

    manager = staff("pm@example.test", "product_manager")
    login(client, manager)
    data = {
        "product": catalogue.pk,
        "code": rule.code,
        "position": rule.position,
        "outcome": rule.outcome,
        "conditions": '[{"fact": "sales_usa", "op": "sometimes"}]',
        "reason_zh": rule.reason_zh,
        "reason_en": rule.reason_en,
        "exclusion": "{}",
        "active": "on",
    }
    assert client.post(change, data).status_code == 200  # unknown operator refused
    data["conditions"] = '[{"fact": "sum_insured", "op": "gt", "value": 5000000}]'
    assert client.post(change, data).status_code == 302
    rule.refresh_from_db()
    assert rule.conditions == [{"fact": "sum_insured", "op": "gt", "value": 5000000}]


def test_seed_demo_gives_demo_underwriters_their_authority_once(db):
    call_command("seed_demo", "--quiet")
    call_command("seed_demo", "--quiet")
    rows = {
        a.user.email: (a.max_sum_insured, a.max_adjustment_percent)
        for a in UnderwriterAuthority.objects.select_related("user")
    }
    assert rows == {
        "underwriter@demo.example": (Decimal("1000000.00"), Decimal("20.00")),
        "senior-underwriter@demo.example": (Decimal("20000000.00"), Decimal("40.00")),
    }
    assert UnderwriterAuthority.history.count() == 2
