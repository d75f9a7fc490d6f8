"""The applicant's pages for applying for cover: start from a product page, the step-by-step
form, review and declaration, the list, the detail, quotes and their PDF, notifications, and
who may see what (another firm's application answers 404).

Text assertions run in English (the language cookie), so that they do not depend on the state of
the Chinese catalogue; figures and ids are the same in both languages."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from portal.models import Notification
from portal.notifications import mark_read, notify, unread_count
from tests.factories import FirmFactory, MembershipFactory, UserFactory
from tests.underwriting.application_helpers import granted_patent
from underwriting import record_cache, selectors_app, services
from underwriting.choices import ApplicationStatus, QuestionnaireKind, QuoteStatus
from underwriting.models import Application, Product, Quote, UnderwritingRule
from underwriting.templatetags.application_rows import application_list_rows

PRODUCT = "PAT-ENF"
LANGUAGE_COOKIE = "portal_language"

# --- Test data ------------------------------------------------------------------------------

ORDINARY_VALUATION = {
    "invalidation_history": "none",
    "claim_type": "product",
    "non_circumventability": "4",
    "technical_maturity": "mass_production",
    "substitutes": "few",
    "market_share": "12",
    "revenue_attributable": "5000000",
    "licensing": "none",
    "royalty_rate": "5",
    "economic_life": "8",
    "discount_rate": "12",
    "rd_cost": "800000",
    "obsolescence": "20",
}
ORDINARY_RISK = {
    "industry": "electronic_information",
    "annual_sales": "8000000",
    "management": "basic",
    "suits_last_5_years": "0",
    "known_dispute": "false",
    "warning_letters": "false",
    "invalidation_requests": "false",
    "npe_exposure": "false",
    "sales_regions": ["cn"],
    "group_scheme": "individual",
}


@pytest.fixture
def catalogue(seeded_catalogue, db):
    product = Product.objects.get(code=PRODUCT)
    version = services.current_clause_version(product)
    kinds = set(version.questionnaires.values_list("kind", flat=True))
    assert kinds == {QuestionnaireKind.VALUATION, QuestionnaireKind.RISK}
    assert UnderwritingRule.objects.filter(product=product, active=True).exists()
    return product


def _english(client):
    client.cookies[LANGUAGE_COOKIE] = "en"
    return client


@pytest.fixture
def en_a(client_a):
    return _english(client_a)


@pytest.fixture
def patent(firm_a):
    return granted_patent(firm_a)


def text(response) -> str:
    return response.content.decode()


def step_url(application, key):
    return f"/app/applications/{application.pk}/step/{key}/"


def detail_url(application):
    return f"/app/applications/{application.pk}/"


def fill(questions, wanted: dict) -> dict:
    """Answers an ordinary low-risk firm gives, for whatever questions the catalogue has: the
    wanted answer where it fits the question, else a neutral one."""
    answers = {}
    for question in questions:
        code, kind = question["code"], question.get("kind")
        codes = [str(o["code"]) for o in question.get("options") or ()]
        value = wanted.get(code)
        if kind == "choice" and value not in codes:
            value = codes[0] if question.get("required", True) else None
        elif kind == "multi":
            value = [v for v in (value or []) if v in codes] or (
                [codes[0]] if question.get("required", True) else None
            )
        elif value is None and question.get("required", True) and not question.get("show_if"):
            value = {
                "boolean": "false",
                "integer": str(question.get("min") or 0),
                "number": str(question.get("min") or 0),
                "date": timezone.localdate().isoformat(),
            }.get(kind, "无")
        if value is not None:
            answers[code] = value
    return answers


def questions(application, kind):
    return services.questionnaire_of(application.clause_version, kind).questions


def cover_data(patents, **overrides):
    data = {
        "assets": [str(p.pk) for p in patents],
        "limit_investigation": "50000",
        "limit_legal": "150000",
        "deductible": "d10",
        "wished_start": (timezone.localdate() + timedelta(days=7)).isoformat(),
        "_action": "next",
    }
    data.update(overrides)
    return data


def start(client, product_code=PRODUCT) -> Application:
    response = client.post(f"/app/applications/start/{product_code}/")
    assert response.status_code == 302, text(response)
    application = Application.objects.order_by("-pk").first()
    assert response.url == step_url(application, "cover")
    return application


def fill_in(client, patents, *, risk=None) -> Application:
    """Start and complete every step through the pages, as an applicant would."""
    application = start(client)
    response = client.post(step_url(application, "cover"), cover_data(patents))
    assert response.status_code == 302, text(response)
    for patent in patents:
        answers = fill(questions(application, QuestionnaireKind.VALUATION), ORDINARY_VALUATION)
        response = client.post(
            step_url(application, f"valuation-{patent.pk}"), {**answers, "_action": "next"}
        )
        assert response.status_code == 302, text(response)
    answers = fill(
        questions(application, QuestionnaireKind.RISK), {**ORDINARY_RISK, **(risk or {})}
    )
    response = client.post(step_url(application, "risk"), {**answers, "_action": "next"})
    assert response.status_code == 302, text(response)
    assert response.url == step_url(application, "review")
    application.refresh_from_db()
    return application


def submit(client, application, declaration=True):
    data = {"declaration": "on"} if declaration else {}
    return client.post(f"/app/applications/{application.pk}/submit/", data)


# --- Starting ---------------------------------------------------------------------------------


def test_product_page_offers_to_apply_and_starts_an_application(catalogue, en_a, firm_a):
    page = text(en_a.get(f"/products/{PRODUCT}/"))
    assert f'action="/app/applications/start/{PRODUCT}/"' in page
    assert "Apply for this product" in page

    application = start(en_a)
    assert application.firm == firm_a
    assert application.status == ApplicationStatus.DRAFT
    cover = en_a.get(step_url(application, "cover"))
    assert cover.status_code == 200
    assert 'id="app-progress"' in text(cover)
    assert 'aria-current="step"' in text(cover)


def test_anonymous_visitor_is_sent_to_log_in_and_comes_back(catalogue, client):
    page = text(client.get(f"/products/{PRODUCT}/"))
    assert f"/accounts/login/?next=/app/applications/start/{PRODUCT}/" in page
    response = client.get(f"/app/applications/start/{PRODUCT}/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert not Application.objects.exists()


def test_start_after_login_asks_to_confirm_and_get_never_writes(catalogue, en_a):
    response = en_a.get(f"/app/applications/start/{PRODUCT}/")
    assert response.status_code == 200
    assert "Start the application" in text(response)
    assert not Application.objects.exists()


def test_user_without_a_firm_is_sent_to_register_one(catalogue, client):
    client.force_login(UserFactory())
    response = client.post(f"/app/applications/start/{PRODUCT}/")
    assert response.status_code == 302
    assert response.url == "/app/firms/new/"
    assert not Application.objects.exists()


def test_unknown_product_answers_404(catalogue, client_a):
    assert client_a.post("/app/applications/start/NO-SUCH/").status_code == 404


# --- The form ---------------------------------------------------------------------------------


def test_cover_step_lists_only_the_firms_rights_and_the_offered_limits(
    catalogue, en_a, firm_a, firm_b, patent
):
    foreign = granted_patent(firm_b)
    application = start(en_a)
    page = text(en_a.get(step_url(application, "cover")))
    assert patent.number in page
    assert foreign.number not in page
    assert "150,000" in page and "500,000" in page  # limit options with separators
    assert 'name="deductible"' in page
    assert 'type="date"' in page


def test_cover_step_validation_errors_are_shown_per_field(catalogue, en_a, patent):
    application = start(en_a)
    response = en_a.post(
        step_url(application, "cover"),
        {"limit_investigation": "", "limit_legal": "", "wished_start": "", "_action": "next"},
    )
    assert response.status_code == 200
    page = text(response)
    assert "Some answers need your attention." in page
    assert 'data-field="assets"' in page
    assert 'data-field="wished_start"' in page
    assert "Choose at least one right to insure." in page
    assert "Tell us when cover should start." in page
    assert "Choose a limit for at least one cover section." in page
    application.refresh_from_db()
    assert application.completed_steps == []

    past = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = en_a.post(step_url(application, "cover"), cover_data([patent], wished_start=past))
    assert response.status_code == 200
    assert "Cover cannot start in the past." in text(response)


def test_firm_without_matching_rights_gets_a_link_to_add_one(catalogue, en_a):
    application = start(en_a)
    page = text(en_a.get(step_url(application, "cover")))
    assert 'id="no-assets"' in page
    assert "/app/assets/new/patent/" in page


def test_valuation_step_shows_the_patents_record_and_builds_the_questions(catalogue, en_a, patent):
    application = start(en_a)
    response = en_a.post(step_url(application, "cover"), cover_data([patent]))
    assert response.url == step_url(application, f"valuation-{patent.pk}")
    page = text(en_a.get(response.url))
    facts = page[page.index('id="patent-facts"') : page.index('id="questionnaire-form"')]
    assert patent.number in facts and patent.title in facts
    assert "Invention" in facts  # patent type
    assert "years left" in facts
    assert str(patent.claim_count) in facts
    # number questions: text inputs with a numeric keyboard and the unit as a suffix
    assert re.search(r'<input[^>]*inputmode="decimal"[^>]*name="market_share"', page) or re.search(
        r'<input[^>]*name="market_share"[^>]*inputmode="decimal"', page
    )
    assert 'class="input-group-text">%<' in page
    assert 'type="radio"' in page
    assert "<legend" in page


def test_risk_step_renders_kinds_and_hides_dependent_questions(catalogue, en_a, patent):
    application = start(en_a)
    en_a.post(step_url(application, "cover"), cover_data([patent]))
    page = text(en_a.get(step_url(application, "risk")))
    # a yes/no question has two radios and neither is chosen
    boolean = page[page.index('id="question-known_dispute"') :]
    boolean = boolean[: boolean.index("</fieldset>")]
    assert boolean.count('type="radio"') == 2
    assert "checked" not in boolean
    # a dependent question carries its condition and starts hidden
    hidden = re.search(r'<div class="[^"]*d-none[^"]*" id="question-known_dispute_details"', page)
    assert hidden
    assert 'data-show-if="known_dispute"' in page
    assert 'data-show-if-equals="true"' in page
    # multi → checkboxes; a long choice list → a select
    assert re.search(r'type="checkbox" name="sales_regions"', page)
    assert re.search(r'<select name="industry"', page)


def test_back_keeps_the_unchecked_answers(catalogue, en_a, patent):
    application = start(en_a)
    en_a.post(step_url(application, "cover"), cover_data([patent]))
    response = en_a.post(
        step_url(application, "risk"),
        {"annual_sales": "lots", "industry": "aerospace", "_action": "back"},
    )
    assert response.status_code == 302
    assert response.url == step_url(application, f"valuation-{patent.pk}")
    application.refresh_from_db()
    assert application.risk_answers["annual_sales"] == "lots"
    assert application.risk_answers["industry"] == "aerospace"
    assert "risk" not in application.completed_steps
    page = text(en_a.get(step_url(application, "risk")))
    assert 'value="lots"' in page
    assert re.search(r'<option value="aerospace" selected>', page)


def test_save_and_continue_shows_translated_answer_errors_and_keeps_the_input(
    catalogue, en_a, patent
):
    application = start(en_a)
    en_a.post(step_url(application, "cover"), cover_data([patent]))
    answers = fill(questions(application, QuestionnaireKind.RISK), ORDINARY_RISK)
    answers["annual_sales"] = "lots"
    answers.pop("industry")
    response = en_a.post(step_url(application, "risk"), {**answers, "_action": "next"})
    assert response.status_code == 200
    page = text(response)
    assert "Enter a number, for example" in page
    assert "Please answer this question." in page
    assert 'value="lots"' in page
    application.refresh_from_db()
    assert application.risk_answers.get("annual_sales") == "lots"  # kept, unchecked
    assert "risk" not in application.completed_steps


def test_bounds_are_explained_with_the_limit(catalogue, en_a, patent):
    application = start(en_a)
    en_a.post(step_url(application, "cover"), cover_data([patent]))
    answers = fill(questions(application, QuestionnaireKind.VALUATION), ORDINARY_VALUATION)
    answers["market_share"] = "150"
    response = en_a.post(
        step_url(application, f"valuation-{patent.pk}"), {**answers, "_action": "next"}
    )
    assert response.status_code == 200
    assert "Enter 100 or less." in text(response)


def test_save_and_finish_later_goes_to_the_application(catalogue, en_a, patent):
    application = start(en_a)
    response = en_a.post(step_url(application, "cover"), cover_data([patent], _action="later"))
    assert response.status_code == 302
    assert response.url == detail_url(application)
    application.refresh_from_db()
    assert application.completed_steps == ["cover"]
    page = text(en_a.get(detail_url(application)))
    assert "Continue the form" in page
    resume = en_a.get(f"/app/applications/{application.pk}/continue/")
    assert resume.url == step_url(application, f"valuation-{patent.pk}")


def test_resume_from_a_new_session_shows_every_answer(catalogue, applicant_a, patent):
    first = _english(Client())
    first.force_login(applicant_a)
    application = fill_in(first, [patent])
    first.logout()

    fresh = _english(Client())
    fresh.force_login(applicant_a)
    cover = text(fresh.get(step_url(application, "cover")))
    assert re.search(rf'<input[^>]*value="{patent.pk}"[^>]*checked', cover)
    assert re.search(r'<option value="50000" selected>', cover)
    assert re.search(r'<option value="150000" selected>', cover)
    start_day = (timezone.localdate() + timedelta(days=7)).isoformat()
    assert f'value="{start_day}"' in cover

    valuation = text(fresh.get(step_url(application, f"valuation-{patent.pk}")))
    assert 'value="5000000"' in valuation
    assert re.search(r'value="mass_production"[^>]*checked', valuation)

    risk = text(fresh.get(step_url(application, "risk")))
    assert 'value="8000000"' in risk
    assert re.search(r'value="cn"[^>]*checked', risk)
    assert re.search(r'name="known_dispute" value="false"[^>]*checked', risk)
    progress = text(fresh.get(step_url(application, "review")))
    assert progress.count("(completed)") == 3  # cover, valuation, risk


def test_review_shows_answers_the_premium_and_the_valuation(catalogue, en_a, patent):
    application = fill_in(en_a, [patent])
    page = text(en_a.get(step_url(application, "review")))
    assert "7,164.00" in page  # 1,764.00 + 5,400.00, the published rating table
    assert "1,764.00" in page and "5,400.00" in page
    assert "Industry" in page  # a coefficient of the breakdown
    assert patent.number in page
    assert 'id="valuations"' in page
    assert "Assessed value" in page
    assert 'class="badge text-bg-light border dimension-score"' in page
    assert "effects-table" in page
    assert "Mainland China" in page  # an option label, not its code
    declaration = page[page.index('id="declaration"') :]
    assert 'type="checkbox" name="declaration"' in declaration
    assert "checked" not in declaration[: declaration.index("</form>")]
    assert "article 16" in declaration


def test_review_warns_about_a_referral_before_submitting(catalogue, en_a, patent):
    application = fill_in(en_a, [patent], risk={"sales_regions": ["cn", "us_ca"]})
    page = text(en_a.get(step_url(application, "review")))
    assert "An underwriter will review because" in page


def test_submit_without_the_declaration_is_refused(catalogue, en_a, patent):
    application = fill_in(en_a, [patent])
    response = submit(en_a, application, declaration=False)
    assert response.status_code == 302
    assert response.url == step_url(application, "review")
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DRAFT
    page = text(en_a.get(response.url))
    assert "Confirm that your answers are true and complete" in page


def test_submit_with_the_declaration_gives_a_quote(catalogue, en_a, applicant_a, patent):
    application = fill_in(en_a, [patent])
    response = submit(en_a, application)
    assert response.status_code == 302
    assert response.url == detail_url(application)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.QUOTED
    quote = application.quotes.get()

    page = text(en_a.get(detail_url(application)))
    assert "Your quote is ready" in page
    assert quote.number in page
    assert "7,164.00" in page
    assert "Being prepared" in page  # the PDF is queued
    assert 'id="accept-quote"' in page
    assert application.answers_sha256 in page
    assert "Declared true and complete on" in page
    assert "Portal (automatic)" in page  # the automatic quote in the timeline
    # the frozen answers replace the form
    assert en_a.get(step_url(application, "risk")).url == detail_url(application)
    assert Notification.objects.filter(user=applicant_a).exists()


def test_sales_in_the_usa_are_referred_with_the_reason(catalogue, en_a, patent):
    application = fill_in(en_a, [patent], risk={"sales_regions": ["cn", "us_ca"]})
    submit(en_a, application)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REFERRED
    page = text(en_a.get(detail_url(application)))
    assert "Referred to an underwriter because" in page
    assert "Wait for the underwriter" in page
    assert 'id="accept-quote"' not in page


def test_accepting_the_quote_goes_through_the_exclusion_notice(
    catalogue, en_a, applicant_a, patent
):
    from tests.underwriting.application_helpers import acknowledge

    application = fill_in(en_a, [patent])
    submit(en_a, application)
    quote = application.quotes.get()
    notice_url = f"/app/applications/{application.pk}/quotes/{quote.pk}/notice/"
    assert notice_url in text(en_a.get(detail_url(application)))
    # The old accept address only leads to the notice; nothing is accepted without it.
    response = en_a.post(f"/app/applications/{application.pk}/quotes/{quote.pk}/accept/")
    assert response.status_code == 302 and response["Location"].endswith(notice_url)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.OFFERED
    acknowledge(quote, applicant_a)
    quote.refresh_from_db()
    application.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED
    assert application.status == ApplicationStatus.ACCEPTED
    page = text(en_a.get(detail_url(application)))
    assert 'id="binding-next"' in page


def test_withdraw_needs_a_post_and_withdraws(catalogue, en_a, patent):
    application = fill_in(en_a, [patent])
    submit(en_a, application)
    url = f"/app/applications/{application.pk}/withdraw/"
    assert en_a.get(url).status_code == 405
    response = en_a.post(url, {"reason": "找到了更合适的产品"})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == ApplicationStatus.WITHDRAWN
    assert application.quotes.get().status == QuoteStatus.WITHDRAWN
    page = text(en_a.get(detail_url(application)))
    assert "找到了更合适的产品" in page


def test_underwriters_question_is_answered_on_the_page(catalogue, en_a, applicant_a, patent):
    underwriter = UserFactory(email="uw-pages@example.test", is_staff=True)
    underwriter.groups.add(Group.objects.get(name="underwriter"))
    application = fill_in(en_a, [patent], risk={"sales_regions": ["cn", "us_ca"]})
    submit(en_a, application)
    asked = services.application_ask(
        application=application, actor=underwriter, question="请提供美国销售额。"
    )
    page = text(en_a.get(detail_url(application)))
    assert "请提供美国销售额。" in page
    assert "Answer the underwriter&#x27;s question" in page or "Answer the underwriter" in page
    assert underwriter.email not in page
    assert "Underwriter" in page  # the actor as shown in the timeline

    response = en_a.post(
        f"/app/applications/{application.pk}/questions/{asked.pk}/answer/",
        {"answer": "约占销售额的10%。"},
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REFERRED
    asked.refresh_from_db()
    assert asked.answer == "约占销售额的10%。"


# --- A submitted application's record, kept rendered (underwriting.record_cache) ---------------


def _without_tokens(page: str) -> str:
    return re.sub(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+', r"\1", page)


def _detail_queries(client, application) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(detail_url(application))
    assert response.status_code == 200
    return len(queries), text(response)


def test_the_record_is_rendered_once_and_follows_every_save(catalogue, en_a, patent):
    application = fill_in(en_a, [patent], risk={"sales_regions": ["cn", "us_ca"]})
    submit(en_a, application)
    en_a.get(detail_url(application))  # shows the message of the submission once
    application.refresh_from_db()
    with translation.override("en"):
        cache.delete(record_cache.key(application))
    first_queries, first = _detail_queries(en_a, application)
    kept_queries, kept = _detail_queries(en_a, application)
    assert "Referred to an underwriter because" in kept
    assert 'id="valuations"' in kept and 'id="answers-risk"' in kept
    assert _without_tokens(kept) == _without_tokens(first)
    # Neither the insured rights, the riders nor the wording are read for a kept record.
    assert kept_queries == first_queries - 3

    application.refresh_from_db()
    application.rule_results = [
        {
            "code": "manual",
            "outcome": "refer",
            "reason": {"zh": "需要核实海外收入。", "en": "overseas income needs checking."},
            "exclusion": {},
        }
    ]
    application.save(update_fields=["rule_results", "updated_at"])
    page = text(en_a.get(detail_url(application)))
    assert "overseas income needs checking." in page
    assert "Referred to an underwriter because" in page


def test_the_record_is_kept_per_language(catalogue, client_a, patent):
    application = fill_in(_english(client_a), [patent])
    submit(client_a, application)
    assert "How your application was assessed" in text(client_a.get(detail_url(application)))
    client_a.cookies[LANGUAGE_COOKIE] = "zh-hans"
    page = text(client_a.get(detail_url(application)))
    assert "投保申请的评估结果" in page and "拟投保的权利" in page
    assert "How your application was assessed" not in page


def test_the_record_is_rendered_when_the_cache_is_unreachable(catalogue, en_a, patent, monkeypatch):
    application = fill_in(en_a, [patent])
    submit(en_a, application)

    def unreachable(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr("portal.quiet_cache.cache.get", unreachable)
    monkeypatch.setattr("portal.quiet_cache.cache.set", unreachable)
    for _visit in range(2):
        page = text(en_a.get(detail_url(application)))
        assert "How your application was assessed" in page
        assert 'id="answers-cover"' in page and application.answers_sha256 in page


def test_a_drafts_answers_are_never_kept(catalogue, en_a, patent):
    application = fill_in(en_a, [patent])
    assert "Your answers so far" in text(en_a.get(detail_url(application)))
    response = en_a.post(step_url(application, "cover"), cover_data([patent], limit_legal="300000"))
    assert response.status_code == 302, text(response)
    page = text(en_a.get(detail_url(application)))
    assert "300,000" in page and "150,000" not in page
    assert 'id="assessment"' not in page


# --- The list and the dashboard ---------------------------------------------------------------


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/app/applications/")
    assert response.status_code == 200
    return len(queries)


def test_list_costs_the_same_queries_for_3_and_30_applications(
    catalogue, en_a, firm_a, applicant_a, patent
):
    product = Product.objects.get(code=PRODUCT)

    def add(count):
        for _ in range(count):
            services.application_start(firm=firm_a, actor=applicant_a, product=product)

    quoted = fill_in(en_a, [patent])
    submit(en_a, quoted)
    add(2)
    en_a.get("/app/applications/")  # warm up the session
    few = _list_queries(en_a)
    add(27)
    many = _list_queries(en_a)
    assert few == many, (few, many)
    page = text(en_a.get("/app/applications/"))
    assert page.count('data-application="') == 25  # paginated
    first_page = text(en_a.get("/app/applications/?page=2"))
    assert quoted.reference in first_page
    assert "7,164.00" in first_page  # the live quote's premium
    assert "Accept or withdraw the quote" in first_page
    assert "Continue the form" in page


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_list_rows_match_the_row_template(catalogue, en_a, firm_a, applicant_a, patent, language):
    """application_list_rows writes what underwriting/app/_application_list_rows.html draws:
    every status, a live premium, no sum insured, and a product name that needs escaping."""
    quoted = fill_in(en_a, [patent])
    submit(en_a, quoted)
    for status in ApplicationStatus.values:
        started = services.application_start(firm=firm_a, actor=applicant_a, product=catalogue)
        Application.objects.filter(pk=started.pk).update(status=status, sum_insured=1234567)
    Product.objects.filter(pk=catalogue.pk).update(
        name_zh="专利 & <执行>", name_en='Patents & "enforcement" <1>'
    )
    applications = list(selectors_app.applications_of_firm(firm_a))
    assert {a.status for a in applications} == set(ApplicationStatus.values)
    assert any(a.live_premium is not None for a in applications)
    with translation.override(language), timezone.override("Asia/Shanghai"):
        expected = render_to_string(
            "underwriting/app/_application_list_rows.html", {"applications": applications}
        )
        assert application_list_rows(applications) == expected
    assert expected.count("<tr ") == len(applications) and "&lt;" in expected


def test_list_shows_only_the_active_firms_applications(catalogue, en_a, firm_b, applicant_b):
    services.application_start(
        firm=firm_b, actor=applicant_b, product=Product.objects.get(code=PRODUCT)
    )
    page = text(en_a.get("/app/applications/"))
    assert 'id="no-applications"' in page


def test_dashboard_card_and_navigation(catalogue, en_a, patent):
    application = fill_in(en_a, [patent])
    submit(en_a, application)
    page = text(en_a.get("/app/"))
    card = page[page.index('id="dashboard-applications"') :]
    assert application.reference in card
    assert "Accept or withdraw the quote" in card
    assert 'href="/products/"' in card
    assert 'id="nav-applications"' in page
    assert 'id="nav-unread-count">1' in page


# --- Notifications ----------------------------------------------------------------------------


def test_notifications_page_lists_the_quote_and_marks_all_read(
    catalogue, en_a, applicant_a, patent
):
    application = fill_in(en_a, [patent])
    submit(en_a, application)
    page = text(en_a.get("/app/notifications/"))
    assert application.reference in page
    assert f'href="/app/applications/{application.pk}/"' in page
    assert 'class="list-group-item notification list-group-item-primary unread"' in page

    assert en_a.post("/app/notifications/").status_code == 302
    assert not Notification.objects.filter(user=applicant_a, read_at__isnull=True).exists()
    page = text(en_a.get("/app/notifications/"))
    assert "unread" not in re.findall(r'class="list-group-item notification[^"]*"', page)[0]
    assert 'id="nav-unread-count"' not in page


def test_notifications_are_private_and_links_stay_inside(en_a, applicant_a, applicant_b):
    Notification.objects.create(user=applicant_b, title="B's secret")
    Notification.objects.create(
        user=applicant_a,
        title="Outside link",
        url="https://evil.example/",
    )
    page = text(en_a.get("/app/notifications/"))
    assert "B&#x27;s secret" not in page and "B's secret" not in page
    assert "Outside link" in page
    assert "evil.example" not in page


def test_the_unread_count_is_kept_between_pages_and_follows_every_change(
    en_a, applicant_a, applicant_b
):
    def badge() -> str | None:
        found = re.search(r'id="nav-unread-count">(\d+)', text(en_a.get("/app/")))
        return found.group(1) if found else None

    notify(users=[applicant_a, applicant_b], title="First")
    assert badge() == "1"
    with CaptureQueriesContext(connection) as queries:
        assert badge() == "1"
    assert not [q for q in queries if "portal_notification" in q["sql"]]
    notify(users=[applicant_a], title="Second")
    assert badge() == "2"
    mark_read(user=applicant_a)
    assert badge() is None
    # Another user's change leaves this count alone and theirs right.
    notify(users=[applicant_b], title="Third")
    assert unread_count(applicant_b) == 2 and badge() is None


def test_notifications_need_login(client):
    response = client.get("/app/notifications/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


# --- Who may see what -------------------------------------------------------------------------


@pytest.fixture
def quoted_with_pdf(catalogue, en_a, patent):
    application = fill_in(en_a, [patent])
    submit(en_a, application)
    quote = application.quotes.get()
    quote.pdf.save(f"{quote.number}.pdf", ContentFile(b"%PDF-1.4 test quote"), save=False)
    Quote.objects.filter(pk=quote.pk).update(pdf=quote.pdf.name, pdf_status="ready")
    quote.refresh_from_db()
    return application, quote


def test_quote_pdf_is_an_attachment_with_nosniff(quoted_with_pdf, en_a):
    application, quote = quoted_with_pdf
    page = text(en_a.get(detail_url(application)))
    url = f"/app/applications/{application.pk}/quotes/{quote.pk}/pdf/"
    assert url in page
    response = en_a.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment")
    assert quote.number in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_another_firm_gets_404_everywhere(quoted_with_pdf, client_b):
    application, quote = quoted_with_pdf
    base = f"/app/applications/{application.pk}"
    for url in (
        f"{base}/",
        f"{base}/continue/",
        f"{base}/step/cover/",
        f"{base}/step/review/",
        f"{base}/quotes/{quote.pk}/pdf/",
    ):
        assert client_b.get(url).status_code == 404, url
    for url in (
        f"{base}/submit/",
        f"{base}/withdraw/",
        f"{base}/quotes/{quote.pk}/accept/",
        f"{base}/step/cover/",
    ):
        assert client_b.post(url, {"declaration": "on"}).status_code == 404, url
    application.refresh_from_db()
    assert application.status == ApplicationStatus.QUOTED


def test_a_quote_of_another_application_is_not_found(quoted_with_pdf, en_a, firm_a, applicant_a):
    application, quote = quoted_with_pdf
    other = services.application_start(
        firm=firm_a, actor=applicant_a, product=Product.objects.get(code=PRODUCT)
    )
    assert en_a.get(f"/app/applications/{other.pk}/quotes/{quote.pk}/pdf/").status_code == 404


@pytest.mark.parametrize("persona", ["staff", "officer", "stranger"])
def test_staff_officers_and_strangers_without_membership_get_404(
    quoted_with_pdf, client, underwriter, officer_x, persona
):
    application, quote = quoted_with_pdf
    user = {"staff": underwriter, "officer": officer_x, "stranger": UserFactory()}[persona]
    client.force_login(user)  # the staff and officer personas have TOTP set up
    base = f"/app/applications/{application.pk}"
    assert client.get(f"{base}/").status_code == 404
    assert client.get(f"{base}/quotes/{quote.pk}/pdf/").status_code == 404
    assert client.post(f"{base}/withdraw/").status_code == 404


def test_pages_need_login(catalogue, client, firm_a, applicant_a):
    application = services.application_start(
        firm=firm_a, actor=applicant_a, product=Product.objects.get(code=PRODUCT)
    )
    for url in ("/app/applications/", detail_url(application), step_url(application, "cover")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")


def test_member_of_two_firms_sees_both_firms_applications(catalogue, client, applicant_a):
    second = FirmFactory()
    MembershipFactory(firm=second, user=applicant_a)
    application = services.application_start(
        firm=second, actor=applicant_a, product=Product.objects.get(code=PRODUCT)
    )
    client.force_login(applicant_a)
    assert client.get(detail_url(application)).status_code == 200


def test_dates_stay_iso_in_chinese(catalogue, client_a, patent):
    application = start(client_a)
    client_a.post(step_url(application, "cover"), cover_data([patent], _action="later"))
    page = text(client_a.get(step_url(application, "cover")))
    start_day = (timezone.localdate() + timedelta(days=7)).isoformat()
    assert f'value="{start_day}"' in page  # an <input type="date"> takes only ISO dates
