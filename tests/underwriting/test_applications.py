"""Applying for cover through the services: answers, submission, automatic underwriting,
referral, underwriters' terms, approval, acceptance and expiry."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from portal.errors import DomainError, PermissionDenied
from portal.models import Notification
from tests.factories import UserFactory
from tests.underwriting.application_helpers import (
    ORDINARY_RISK,
    acknowledge,
    answers_for,
    filled_application,
    granted_patent,
)
from underwriting import services
from underwriting.choices import ApplicationStatus, QuestionnaireKind, QuoteStatus
from underwriting.models import Application, Product, Quote, UnderwriterAuthority


@pytest.fixture
def catalogue(seeded_catalogue, db):
    """The module's shared catalogue (see conftest)."""


@pytest.fixture
def senior(db):
    user = UserFactory(email="senior@example.test", is_staff=True)
    user.groups.add(Group.objects.get(name="senior_underwriter"))
    return user


def submit(application, user):
    return services.application_submit(application=application, actor=user, declaration=True)


def test_golden_patent_enforcement_application_is_quoted_at_once(catalogue, firm_a, applicant_a):
    application = submit(filled_application(firm_a, applicant_a), applicant_a)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.QUOTED
    quote = application.quotes.get()
    assert quote.status == QuoteStatus.OFFERED
    assert quote.premium == Decimal("7164.00")
    assert [s["premium"] for s in quote.breakdown["sections"]] == ["1764.00", "5400.00"]
    assert quote.valid_until == timezone.localdate() + timedelta(days=30)
    assert quote.pdf_status == "queued"
    assert application.sum_insured == Decimal("200000.00")
    assert len(application.answers_sha256) == 64
    assert application.frozen_answers["risk_answers"]["industry"] == "electronic_information"
    statuses = list(application.events.values_list("to_status", flat=True))
    assert statuses == ["draft", "submitted", "quoted"]
    assert Notification.objects.filter(user=applicant_a, title__contains=application.reference)


def test_sales_in_the_usa_refer_with_the_reason(catalogue, firm_a, applicant_a, underwriter):
    application = filled_application(firm_a, applicant_a, risk={"sales_regions": ["cn", "us_ca"]})
    submit(application, applicant_a)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REFERRED
    assert not application.quotes.exists()
    hits = [r for r in application.rule_results if r["outcome"] == "refer"]
    assert hits and all(r["reason"]["zh"] for r in hits)
    assert application.events.last().reason
    assert Notification.objects.filter(user=underwriter).exists()


def test_three_suits_refer(catalogue, firm_a, applicant_a):
    application = filled_application(firm_a, applicant_a, risk={"suits_last_5_years": "3"})
    submit(application, applicant_a)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REFERRED


def test_known_dispute_adds_an_exclusion_to_enforcement_cover(catalogue, firm_a, applicant_a):
    application = filled_application(
        firm_a,
        applicant_a,
        risk={"known_dispute": "true", "known_dispute_details": "与某公司就该专利存在侵权纠纷"},
    )
    submit(application, applicant_a)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.QUOTED
    quote = application.quotes.get()
    assert len(quote.special_exclusions) == 1
    assert quote.special_exclusions[0]["title"]["zh"]


def test_known_dispute_declines_liability_cover(catalogue, firm_a, applicant_a):
    application = filled_application(
        firm_a,
        applicant_a,
        product_code="PAT-INF-LIAB",
        risk={"known_dispute": "true", "known_dispute_details": "已收到侵权警告"},
    )
    submit(application, applicant_a)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DECLINED
    assert application.events.last().reason
    assert not application.quotes.exists()


def test_expired_right_is_declined(catalogue, firm_a, applicant_a):
    lapsed = granted_patent(firm_a, legal_status="lapsed")
    application = filled_application(firm_a, applicant_a, assets=[lapsed])
    submit(application, applicant_a)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.DECLINED


def test_patent_with_under_three_years_left_refers(catalogue, firm_a, applicant_a):
    short = granted_patent(firm_a, years_left=2)
    application = filled_application(firm_a, applicant_a, assets=[short])
    submit(application, applicant_a)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REFERRED


def test_declaration_is_required_and_answers_freeze(catalogue, firm_a, applicant_a):
    application = filled_application(firm_a, applicant_a)
    with pytest.raises(DomainError):
        services.application_submit(application=application, actor=applicant_a, declaration=False)
    submit(application, applicant_a)
    with pytest.raises(DomainError):
        services.application_risk_save(
            application=application, actor=applicant_a, answers=dict(ORDINARY_RISK)
        )


def test_incomplete_application_cannot_be_submitted(catalogue, firm_a, applicant_a):
    application = services.application_start(
        firm=firm_a, actor=applicant_a, product=Product.objects.get(code="PAT-ENF")
    )
    with pytest.raises(DomainError) as error:
        submit(application, applicant_a)
    assert error.value.code == "incomplete"


def test_going_back_keeps_unchecked_answers(catalogue, firm_a, applicant_a):
    application = filled_application(firm_a, applicant_a)
    services.application_risk_save(
        application=application,
        actor=applicant_a,
        answers={"annual_sales": "not yet sure"},
        complete=False,
    )
    application = Application.objects.get(pk=application.pk)
    assert application.risk_answers == {"annual_sales": "not yet sure"}
    assert "risk" not in application.completed_steps
    with pytest.raises(services.AnswersInvalid) as error:
        services.application_risk_save(
            application=application, actor=applicant_a, answers={"annual_sales": "lots"}
        )
    assert "annual_sales" in error.value.errors
    application.refresh_from_db()
    assert application.risk_answers == {"annual_sales": "lots"}, "what was typed is kept"
    assert "risk" not in application.completed_steps


def test_cover_step_checks_rights_limits_and_dates(catalogue, firm_a, firm_b, applicant_a):
    application = services.application_start(
        firm=firm_a, actor=applicant_a, product=Product.objects.get(code="PAT-ENF")
    )
    foreign = granted_patent(firm_b)
    with pytest.raises(services.AnswersInvalid) as error:
        services.application_cover_save(
            application=application,
            actor=applicant_a,
            asset_ids=[foreign.pk],
            limits={"investigation": "12345"},
            wished_start=timezone.localdate() - timedelta(days=1),
        )
    assert {"assets", "limit_investigation", "wished_start"} <= set(error.value.errors)


def test_other_firm_cannot_touch_the_application(catalogue, firm_a, applicant_a, applicant_b):
    application = filled_application(firm_a, applicant_a)
    with pytest.raises(PermissionDenied):
        services.application_risk_save(
            application=application, actor=applicant_b, answers=dict(ORDINARY_RISK)
        )
    with pytest.raises(PermissionDenied):
        submit(application, applicant_b)


def test_valuation_is_stored_per_patent(catalogue, firm_a, applicant_a):
    application = filled_application(firm_a, applicant_a, product_code="PAT-INF-LOSS")
    version = application.clause_version
    assert services.questionnaire_of(version, QuestionnaireKind.VALUATION) is not None
    submit(application, applicant_a)
    application.refresh_from_db()
    item = application.insured_assets.get()
    assert Decimal(item.valuation["point_value"]) > 0
    assert Decimal(item.valuation["low"]) <= Decimal(item.valuation["point_value"])
    assert application.valuation["total"] == item.valuation["point_value"]


def test_sum_insured_above_the_value_cap_is_referred(catalogue, firm_a, applicant_a):
    assert Product.objects.get(code="PAT-INF-LOSS").value_cap_percent == Decimal("80")
    tiny_value = {"revenue_attributable": "1000", "rd_cost": "1000", "royalty_rate": "1"}
    application = filled_application(
        firm_a, applicant_a, product_code="PAT-INF-LOSS", valuation=tiny_value
    )
    submit(application, applicant_a)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REFERRED
    assert any(r["code"] == "rating" for r in application.rule_results)


# --- Underwriters ------------------------------------------------------------------------------


@pytest.fixture
def referred(catalogue, firm_a, applicant_a):
    application = filled_application(firm_a, applicant_a, risk={"sales_regions": ["cn", "us_ca"]})
    submit(application, applicant_a)
    application.refresh_from_db()
    assert application.status == ApplicationStatus.REFERRED
    return application


def test_underwriter_loads_and_adds_an_exclusion(referred, underwriter, applicant_a):
    exclusion = {
        "title": {"zh": "美国诉讼除外", "en": "US suits"},
        "text": {
            "zh": "在美国提起的诉讼不在保障范围内。",
            "en": "Suits in the US are not covered.",
        },
        "explanation": {"zh": "美国的案件不赔。", "en": "We do not pay for US cases."},
    }
    quote = services.underwriter_quote(
        application=referred,
        actor=underwriter,
        adjustment_percent="10",
        special_exclusions=[exclusion],
    )
    referred.refresh_from_db()
    assert quote.status == QuoteStatus.OFFERED
    assert quote.technical_premium == Decimal("7164.00")
    assert quote.premium == Decimal("7880.40")
    assert quote.special_exclusions == [exclusion]
    assert referred.status == ApplicationStatus.QUOTED
    assert referred.assigned_to == underwriter


def test_adjustment_beyond_authority_is_refused(referred, underwriter):
    UnderwriterAuthority.objects.create(
        user=underwriter, max_sum_insured=Decimal("1000000"), max_adjustment_percent=Decimal("5")
    )
    with pytest.raises(DomainError):
        services.underwriter_quote(application=referred, actor=underwriter, adjustment_percent="10")


def test_above_authority_waits_for_a_senior(referred, underwriter, senior, applicant_a):
    UnderwriterAuthority.objects.create(user=underwriter, max_sum_insured=Decimal("100000"))
    quote = services.underwriter_quote(application=referred, actor=underwriter)
    referred.refresh_from_db()
    assert quote.status == QuoteStatus.PENDING_APPROVAL
    assert referred.status == ApplicationStatus.REFERRED
    with pytest.raises(PermissionDenied):
        services.quote_approve(quote=quote, actor=underwriter)
    services.quote_approve(quote=quote, actor=senior)
    quote.refresh_from_db()
    referred.refresh_from_db()
    assert quote.status == QuoteStatus.OFFERED and quote.approved_by == senior
    assert referred.status == ApplicationStatus.QUOTED


def test_a_new_quote_supersedes_the_pending_one(referred, underwriter, senior):
    UnderwriterAuthority.objects.create(user=underwriter, max_sum_insured=Decimal("100000"))
    first = services.underwriter_quote(application=referred, actor=underwriter)
    second = services.underwriter_quote(application=referred, actor=senior)
    first.refresh_from_db()
    assert first.status == QuoteStatus.SUPERSEDED
    assert second.status == QuoteStatus.OFFERED
    assert first.number != second.number


def test_decline_needs_reasons(referred, underwriter):
    with pytest.raises(DomainError):
        services.application_decline(application=referred, actor=underwriter, reasons=" ")
    services.application_decline(
        application=referred, actor=underwriter, reasons="美国市场风险超出承保政策"
    )
    referred.refresh_from_db()
    assert referred.status == ApplicationStatus.DECLINED


def test_question_and_answer_return_to_the_underwriter(referred, underwriter, applicant_a):
    question = services.application_ask(
        application=referred, actor=underwriter, question="美国销售额占比是多少？"
    )
    referred.refresh_from_db()
    assert referred.status == ApplicationStatus.INFO_REQUESTED
    services.application_answer_question(
        application=referred, actor=applicant_a, question=question, answer="约5%"
    )
    referred.refresh_from_db()
    assert referred.status == ApplicationStatus.REFERRED
    assert list(referred.events.values_list("to_status", flat=True))[-2:] == [
        "submitted",
        "referred",
    ]


def test_applicant_cannot_underwrite(referred, applicant_a):
    with pytest.raises(PermissionDenied):
        services.underwriter_quote(application=referred, actor=applicant_a)


# --- The applicant's answer and expiry ---------------------------------------------------------


def test_accept_quote_only_with_the_acknowledgement(catalogue, firm_a, applicant_a, applicant_b):
    application = submit(filled_application(firm_a, applicant_a), applicant_a)
    quote = application.quotes.get()
    with pytest.raises(DomainError):
        services.quote_accept(quote=quote, actor=applicant_a, acknowledgement=None)
    with pytest.raises(PermissionDenied):
        acknowledge(quote, applicant_b)
    policy = acknowledge(quote, applicant_a)
    quote.refresh_from_db()
    application.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED
    assert application.status == ApplicationStatus.ACCEPTED
    assert policy.acknowledgement.quote == quote
    with pytest.raises(DomainError):
        services.application_withdraw(application=application, actor=applicant_a)


def test_quotes_expire_after_their_validity(catalogue, firm_a, applicant_a):
    application = submit(filled_application(firm_a, applicant_a), applicant_a)
    quote = application.quotes.get()
    assert services.quotes_expire(today=quote.valid_until) == 0
    assert services.quotes_expire(today=quote.valid_until + timedelta(days=1)) == 1
    quote.refresh_from_db()
    application.refresh_from_db()
    assert quote.status == QuoteStatus.EXPIRED
    assert application.status == ApplicationStatus.EXPIRED
    with pytest.raises(DomainError):
        acknowledge(quote, applicant_a)


def test_expired_offer_cannot_be_accepted_before_the_beat_runs(catalogue, firm_a, applicant_a):
    application = submit(filled_application(firm_a, applicant_a), applicant_a)
    Quote.objects.filter(application=application).update(
        valid_until=timezone.localdate() - timedelta(days=1)
    )
    with pytest.raises(DomainError) as error:
        acknowledge(application.quotes.get(), applicant_a)
    assert error.value.code in ("expired", "transition")


def test_withdraw_withdraws_the_live_quote(catalogue, firm_a, applicant_a):
    application = submit(filled_application(firm_a, applicant_a), applicant_a)
    services.application_withdraw(application=application, actor=applicant_a)
    assert application.quotes.get().status == QuoteStatus.WITHDRAWN


def test_answers_for_helper_fills_required_questions(catalogue):
    version = Product.objects.get(code="PAT-ENF").clause_versions.get()
    questions = services.questionnaire_of(version, QuestionnaireKind.RISK).questions
    answers = answers_for(questions, ORDINARY_RISK)
    from underwriting.questionnaires import clean_answers

    assert clean_answers(questions, answers)[1] == {}


def test_each_step_notifies_in_app_and_by_mail(
    catalogue, firm_a, applicant_a, underwriter, django_capture_on_commit_callbacks, mailoutbox
):
    application = filled_application(firm_a, applicant_a, risk={"sales_regions": ["us_ca"]})
    with django_capture_on_commit_callbacks(execute=True):
        submit(application, applicant_a)
    # The applicant hears that an underwriter has it; the underwriter hears of the referral.
    to_applicant = [m for m in mailoutbox if applicant_a.email in m.to]
    to_underwriter = [m for m in mailoutbox if underwriter.email in m.to]
    assert len(to_applicant) == 1 and application.reference in to_applicant[0].subject
    assert "核保" in to_applicant[0].subject  # Chinese: the applicant's default language
    assert len(to_underwriter) == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.underwriter_quote(application=application, actor=underwriter)
    assert Notification.objects.filter(user=applicant_a).count() == 2
    assert sum(applicant_a.email in m.to for m in mailoutbox) == 2
    assert all(n.emailed_at for n in Notification.objects.filter(user=applicant_a))
