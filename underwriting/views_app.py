"""The applicant's side of applying for cover: start, the step-by-step form, review and
declaration, the applications list and detail, answers to the underwriter, the exclusion notice
that accepts a quote (binding), withdrawing, and the quote PDF.

Views read through ``underwriting.selectors_app`` (scoped to the user's firms: anyone else's
application answers 404) and write only through ``underwriting.services``. Answers live in the
database, never in the session, so an application reopens complete from any new session.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.choices import AssetKind
from portal.errors import DomainError
from underwriting import record_cache, selectors, selectors_app, services
from underwriting.choices import (
    ApplicationStatus,
    DocumentStatus,
    QuestionnaireKind,
    QuoteStatus,
)
from underwriting.forms_app import (
    CoverForm,
    ExclusionNoticeForm,
    QuestionnaireForm,
    answer_rows,
    effect_rows,
)
from underwriting.models import pick_language
from underwriting.services.applications import (
    DEDUCTIBLE_INPUT,
    STEP_COVER,
    STEP_REVIEW,
    STEP_RISK,
)

PAGE_SIZE = 25
WITHDRAWABLE = {
    ApplicationStatus.DRAFT,
    ApplicationStatus.REFERRED,
    ApplicationStatus.INFO_REQUESTED,
    ApplicationStatus.QUOTED,
}
ACTION_BACK, ACTION_NEXT, ACTION_LATER = "back", "next", "later"


# --- Access -----------------------------------------------------------------------------------


def _no_firm(request):
    """Without a firm: staff and officers have no applicant workspace (404); anyone else is
    asked to register their firm first."""
    if request.user.is_staff or request.user.is_officer:
        raise Http404
    messages.info(request, _("Register your firm first: everything you do here is for a firm."))
    return redirect("portal:firm_register")


def firm_member_required(view):
    @login_required
    def wrapped(request, *args, **kwargs):
        if request.firm is None:
            return _no_firm(request)
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _detail(application):
    return redirect("applications:detail", pk=application.pk)


def _step_url(application, key: str) -> str:
    return reverse("applications:step", kwargs={"pk": application.pk, "key": key})


# --- Start, list, resume ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def application_start(request, code):
    """GET asks to confirm (so that a login with ``next=`` lands somewhere useful); POST starts."""
    product = selectors.published_product(code)
    if request.firm is None:
        return _no_firm(request)
    if request.method == "GET":
        return render(request, "underwriting/app/start.html", {"product": product})
    try:
        application = services.application_start(
            firm=request.firm, actor=request.user, product=product
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("underwriting:product_detail", code=product.code)
    messages.success(
        request,
        _("Application %(reference)s started. Your answers are saved as you go.")
        % {"reference": application.reference},
    )
    return redirect(_step_url(application, STEP_COVER))


@firm_member_required
@require_GET
def application_list(request):
    page = Paginator(selectors_app.applications_of_firm(request.firm), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "underwriting/app/list.html", {"page": page})


def _first_open_step(steps) -> str:
    for step in steps:
        if step["key"] != STEP_REVIEW and not step["done"]:
            return step["key"]
    return STEP_REVIEW


@login_required
@require_GET
def application_resume(request, pk):
    """Continue the form where it was left: the first step not completed yet."""
    application = selectors_app.application_for_user(request.user, pk)
    if not application.is_editable:
        return _detail(application)
    steps = services.application_steps(application, list(application.insured_assets.all()))
    return redirect(_step_url(application, _first_open_step(steps)))


# --- The form's steps -------------------------------------------------------------------------


def _progress(application, steps, current_key: str) -> list[dict]:
    """Numbered steps for the indicator: done ticks, the current one highlighted, completed
    steps (and the first open one) clickable."""
    first_open = _first_open_step(steps)
    rows = []
    for number, step in enumerate(steps, start=1):
        rows.append(
            {
                "number": number,
                "key": step["key"],
                "title": step["title"],
                "done": step["done"],
                "current": step["key"] == current_key,
                "url": (
                    _step_url(application, step["key"])
                    if step["done"] or step["key"] in (first_open, current_key)
                    else ""
                ),
            }
        )
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def application_step(request, pk, key):
    # Showing a questionnaire needs none of the wording's rating tables; saving one, the cover
    # step and the review may (the services and the premium estimate read them).
    questionnaire_only = request.method == "GET" and key not in (STEP_COVER, STEP_REVIEW)
    application = selectors_app.application_for_user(
        request.user,
        pk,
        rating_tables=not questionnaire_only,
        firm_ids=[membership.firm_id for membership in request.memberships],
    )
    if not application.is_editable:
        messages.info(request, _("This application was submitted; its answers are shown here."))
        return _detail(application)
    steps = services.application_steps(application, list(application.insured_assets.all()))
    keys = [step["key"] for step in steps]
    if key not in keys:
        raise Http404
    index = keys.index(key)
    context = {
        "application": application,
        "product": application.product,
        "step": steps[index],
        "progress": _progress(application, steps, key),
        "previous_key": keys[index - 1] if index > 0 else "",
        "next_key": keys[index + 1] if index + 1 < len(keys) else "",
    }
    try:
        if key == STEP_COVER:
            return _cover_step(request, application, context)
        if key == STEP_REVIEW:
            return _review_step(request, application, context)
        return _questionnaire_step(request, application, steps[index], context)
    except DomainError as error:
        # Submitted in another tab, membership removed ...: nothing was changed.
        messages.error(request, error.message)
        return _detail(application)


def _after_save(request, application, action: str, target_key: str):
    if action == ACTION_LATER:
        messages.success(
            request,
            _("Saved. You can come back to %(reference)s at any time, from any device.")
            % {"reference": application.reference},
        )
        return _detail(application)
    return redirect(_step_url(application, target_key))


def _cover_step(request, application, context):
    assets = list(selectors_app.insurable_assets(application))
    form = CoverForm(
        request.POST if request.method == "POST" else None,
        application=application,
        assets=assets,
    )
    action = request.POST.get("_action", ACTION_NEXT)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.application_cover_save(
                application=application, actor=request.user, **form.service_arguments()
            )
        except services.AnswersInvalid as error:
            form.apply_service_errors(error.errors)
            messages.error(request, error.message)
        else:
            steps = services.application_steps(saved)
            next_key = steps[1]["key"] if len(steps) > 1 else STEP_REVIEW
            return _after_save(request, saved, action, next_key)
    elif request.method == "POST":
        messages.error(request, _("Some answers need your attention."))
    context.update(
        {
            "form": form,
            "assets": assets,
            "kinds": [
                (kind, AssetKind(kind).label)
                for kind in application.product.ip_types or []
                if kind in AssetKind.values
            ],
        }
    )
    return render(request, "underwriting/app/step_cover.html", context)


def _questionnaire_of_step(application, step):
    kind = QuestionnaireKind.RISK if step["key"] == STEP_RISK else QuestionnaireKind.VALUATION
    questionnaire = services.questionnaire_of(application.clause_version, kind)
    return kind, list(questionnaire.questions) if questionnaire else []


def _save_answers(application, user, step, answers, complete):
    if step["key"] == STEP_RISK:
        return services.application_risk_save(
            application=application, actor=user, answers=answers, complete=complete
        )
    return services.application_valuation_save(
        application=application,
        actor=user,
        asset_id=step["asset"].asset_id,
        answers=answers,
        complete=complete,
    )


def _questionnaire_step(request, application, step, context):
    kind, questions = _questionnaire_of_step(application, step)
    item = step["asset"]
    stored = (item.valuation_answers if item else application.risk_answers) or {}
    if request.method == "POST":
        form = QuestionnaireForm(questions, request.POST)
        answers = form.raw_answers()
        action = request.POST.get("_action", ACTION_NEXT)
        if action == ACTION_BACK:
            # Kept as typed, unchecked: nothing is lost by going back.
            _save_answers(application, request.user, step, answers, complete=False)
            return redirect(_step_url(application, context["previous_key"] or STEP_COVER))
        try:
            _save_answers(application, request.user, step, answers, complete=True)
        except services.AnswersInvalid as error:
            # The service rolls back its own copy of the raw answers when it raises, so they
            # are stored again here, unchecked, before the errors are shown.
            _save_answers(application, request.user, step, answers, complete=False)
            if action == ACTION_LATER:
                messages.warning(
                    request,
                    _("Saved as it is. Some answers still need attention before you can submit."),
                )
                return _detail(application)
            form.apply_service_errors(error.errors)
            messages.error(request, error.message)
        else:
            return _after_save(request, application, action, context["next_key"] or STEP_REVIEW)
    else:
        form = QuestionnaireForm(questions, answers=stored)
    context.update(
        {
            "form": form,
            "kind": kind,
            "item": item,
            "asset": item.asset if item else None,
            "has_questions": bool(questions),
        }
    )
    return render(request, "underwriting/app/step_questions.html", context)


# --- Presenting answers, valuations, premiums and rules ---------------------------------------


def _section_names(version) -> dict:
    return {s.code: s.name for s in version.rating_sections.all()}


def _deductible_label(version, code: str) -> str:
    if not code:
        return ""
    for table in version.coefficient_tables.all():
        if table.input_key == DEDUCTIBLE_INPUT:
            for option in table.options.all():
                if option.code == code:
                    return option.label
    return code


def _rider_names(version, codes) -> list[str]:
    names = {f.rider.code: f.rider.name for f in version.rider_factors.all()}
    return [names.get(code, code) for code in codes or ()]


def _questions_of(version, kind) -> list:
    questionnaire = services.questionnaire_of(version, kind)
    return list(questionnaire.questions) if questionnaire else []


def answers_summary(application, *, frozen: bool) -> dict:
    """Every answer of the application, read-only, with question and option labels: the live
    answers of a draft, or the answers frozen at the declaration."""
    version = application.clause_version
    valuation_questions = _questions_of(version, QuestionnaireKind.VALUATION)
    risk_questions = _questions_of(version, QuestionnaireKind.RISK)
    sections = _section_names(version)
    if frozen and application.frozen_answers:
        data = application.frozen_answers
        assets = [
            {
                "asset_id": entry.get("id"),
                "number": entry.get("number", ""),
                "title": entry.get("title", ""),
                "kind": entry.get("kind", ""),
                "valuation": answer_rows(valuation_questions, entry.get("valuation_answers"))
                if entry.get("kind") == AssetKind.PATENT and valuation_questions
                else [],
            }
            for entry in data.get("assets") or []
        ]
        limits, deductible = data.get("limits") or {}, data.get("deductible") or ""
        riders, wished_start = data.get("riders") or [], data.get("wished_start")
        risk_answers = data.get("risk_answers") or {}
    else:
        assets = [
            {
                "asset_id": item.asset_id,
                "number": item.asset.number,
                "title": item.asset.title,
                "kind": item.asset.kind,
                "valuation": answer_rows(valuation_questions, item.valuation_answers)
                if item.asset.kind == AssetKind.PATENT and valuation_questions
                else [],
            }
            for item in application.insured_assets.all()
        ]
        limits, deductible = application.limits or {}, application.deductible
        riders = application.rider_codes or []
        wished_start = application.wished_start.isoformat() if application.wished_start else None
        risk_answers = application.risk_answers or {}
    for entry in assets:
        entry["step_key"] = f"valuation-{entry['asset_id']}"
        try:
            entry["kind_label"] = AssetKind(entry["kind"]).label
        except ValueError:
            entry["kind_label"] = entry["kind"]
    return {
        "assets": assets,
        "limits": [
            {"name": sections.get(code, code), "amount": value} for code, value in limits.items()
        ],
        "deductible": _deductible_label(version, deductible),
        "riders": _rider_names(version, riders),
        "wished_start": wished_start,
        "sum_insured": application.sum_insured,
        "risk": answer_rows(risk_questions, risk_answers),
    }


def _valuation_rows(valuations: dict, assets: list[dict]) -> list[dict]:
    rows = []
    for entry in assets:
        result = valuations.get(entry["asset_id"]) or valuations.get(str(entry["asset_id"]))
        if not result:
            continue
        rows.append(
            {
                "number": entry["number"],
                "title": entry["title"],
                "result": result,
                "error": result.get("error"),
                **effect_rows(result),
            }
        )
    return rows


def _rule_rows(results) -> dict:
    """Rule hits by outcome, reasons in the active language."""
    grouped = {"refer": [], "decline": [], "exclude": []}
    for hit in results or ():
        outcome = hit.get("outcome")
        if outcome not in grouped:
            continue
        exclusion = hit.get("exclusion") or {}
        grouped[outcome].append(
            {
                "reason": pick_language(hit.get("reason")),
                "exclusion_title": pick_language(exclusion.get("title")),
                "exclusion_text": pick_language(exclusion.get("text")),
                "exclusion_explanation": pick_language(exclusion.get("explanation")),
            }
        )
    return grouped


def _review_step(request, application, context):
    if request.method == "POST":
        # The review step has nothing to save; submitting has its own URL.
        return redirect(_step_url(application, STEP_REVIEW))
    evaluation = services.application_evaluate(application)
    summary = answers_summary(application, frozen=False)
    rating = (
        services.breakdown_to_json(evaluation.quote, application.clause_version)
        if evaluation.quote is not None
        else None
    )
    hits = [hit.to_dict() for hit in evaluation.decision.hits]
    missing = [
        step for step in context["progress"] if step["key"] != STEP_REVIEW and not step["done"]
    ]
    context.update(
        {
            "summary": summary,
            "valuations": _valuation_rows(evaluation.valuations, summary["assets"]),
            "valuation_total": evaluation.valuation_total,
            "rating": rating,
            "rules": _rule_rows(hits),
            "problems": evaluation.problems,
            "outcome": evaluation.outcome,
            "missing_steps": missing,
        }
    )
    return render(request, "underwriting/app/step_review.html", context)


@login_required
@require_POST
def application_submit(request, pk):
    application = selectors_app.application_for_user(request.user, pk)
    declaration = request.POST.get("declaration") in ("on", "true", "1", "yes")
    try:
        application = services.application_submit(
            application=application, actor=request.user, declaration=declaration
        )
    except DomainError as error:
        messages.error(request, error.message)
        if application.is_editable:
            return redirect(_step_url(application, STEP_REVIEW))
        return _detail(application)
    application.refresh_from_db(fields=["status"])
    outcome_messages = {
        ApplicationStatus.QUOTED: _("Submitted. Your quote is ready below."),
        ApplicationStatus.REFERRED: _(
            "Submitted. An underwriter will review your application; we will let you know."
        ),
        ApplicationStatus.DECLINED: _("Submitted. We cannot offer cover; the reasons are below."),
    }
    messages.success(request, outcome_messages.get(application.status, _("Submitted.")))
    return _detail(application)


# --- Detail and the applicant's answers -------------------------------------------------------


def _actor_name(actor) -> str:
    if actor is None:
        return _("Portal (automatic)")
    if actor.is_staff:
        return _("Underwriter")
    return actor.full_name or actor.email


def _timeline(application) -> list[dict]:
    rows = []
    for event in application.timeline:
        rows.append(
            {
                "at": event.at,
                "actor": _actor_name(event.actor),
                "from": event.get_from_status_display() if event.from_status else "",
                "to": event.get_to_status_display() if event.to_status else "",
                "reason": event.reason,
            }
        )
    return rows


@login_required
@require_GET
def application_detail(request, pk):
    application = selectors_app.application_detail_for_user(
        request.user,
        pk,
        with_record=False,
        firm_ids=[membership.firm_id for membership in request.memberships],
    )
    submitted = not application.is_editable
    live_quote = next(
        (q for q in application.visible_quotes if q.status in selectors_app.LIVE_QUOTE_STATUSES),
        None,
    )
    today = timezone.localdate()
    rating = application.rating or {}
    steps = []
    if submitted:
        record_key = record_cache.key(application)
        record = record_cache.get(record_key)
        if record is None:
            record = _application_record(application, submitted=True)
            record_cache.put(record_key, record)
    else:
        record = _application_record(application, submitted=False)
        steps = services.application_steps(application, list(application.insured_assets.all()))
    context = {
        "application": application,
        "record": {name: mark_safe(html) for name, html in record.items()},  # noqa: S308
        "submitted": submitted,
        "timeline": _timeline(application),
        "progress": _progress(application, steps, "") if steps else [],
        "resume_key": _first_open_step(steps) if steps else "",
        "open_questions": [q for q in application.underwriter_questions if not q.answered_at],
        "answered_questions": [q for q in application.underwriter_questions if q.answered_at],
        "live_quote": live_quote,
        "quote_exclusions": [
            {
                "title": pick_language(e.get("title")),
                "text": pick_language(e.get("text")),
                "explanation": pick_language(e.get("explanation")),
            }
            for e in (live_quote.special_exclusions if live_quote else [])
        ],
        "can_accept": bool(
            live_quote
            and live_quote.status == QuoteStatus.OFFERED
            and application.status == ApplicationStatus.QUOTED
            and live_quote.valid_until >= today
        ),
        "quote_lapsed": bool(
            live_quote
            and live_quote.status == QuoteStatus.OFFERED
            and live_quote.valid_until < today
        ),
        "pdf_ready": bool(
            live_quote and live_quote.pdf_status == DocumentStatus.READY and live_quote.pdf
        ),
        # The quote's own breakdown only when an underwriter's terms changed it.
        "quote_breakdown": (
            live_quote.breakdown
            if live_quote
            and live_quote.breakdown.get("sections")
            and live_quote.breakdown != rating
            else None
        ),
        "can_withdraw": application.status in WITHDRAWABLE,
        "policy": (
            selectors_app.policy_of_application(application)
            if application.status == ApplicationStatus.ACCEPTED
            else None
        ),
        "older_quotes": [q for q in application.visible_quotes if q is not live_quote],
    }
    return render(request, "underwriting/app/detail.html", context)


def _application_record(application, *, submitted: bool) -> dict[str, str]:
    """The answers as HTML — frozen at the declaration once submitted — and, once submitted,
    how the application was assessed; the pieces underwriting.record_cache keeps."""
    selectors_app.load_application_record(application)
    summary = answers_summary(application, frozen=submitted)
    answers = render_to_string(
        "underwriting/app/_answers.html",
        {"application": application, "summary": summary, "edit_links": False},
    )
    if not submitted:
        return {"answers": answers, "assessment": ""}
    rating = application.rating or {}
    stored_valuations = {
        item.asset_id: item.valuation for item in application.insured_assets.all() if item.valuation
    }
    assessment = render_to_string(
        "underwriting/app/_assessment.html",
        {
            "valuations": _valuation_rows(stored_valuations, summary["assets"]),
            "valuation_total": (application.valuation or {}).get("total"),
            "rating": rating if rating.get("sections") else None,
            "rating_problems": rating.get("problems") or [],
            "rules": _rule_rows(application.rule_results),
        },
    )
    return {"answers": answers, "assessment": assessment}


@login_required
@require_POST
def question_answer(request, pk, question_pk):
    application = selectors_app.application_for_user(request.user, pk)
    question = selectors_app.question_for_application(application, question_pk)
    try:
        services.application_answer_question(
            application=application,
            actor=request.user,
            question=question,
            answer=(request.POST.get("answer") or "")[:5000],
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Thank you. Your answer was sent to the underwriter."))
    return _detail(application)


@login_required
@require_http_methods(["GET", "POST"])
def quote_accept(request, pk, quote_pk):
    """The former accept button: accepting is binding now, and binding is only ever done by
    confirming the exclusion notice. Nothing is accepted here."""
    quote = selectors_app.quote_for_user(request.user, pk, quote_pk)
    return redirect("applications:quote_notice", pk=pk, quote_pk=quote.pk)


# --- The exclusion notice (binding) ------------------------------------------------------------


def _notice_refusal(request, quote):
    """Why this quote cannot be bound any more, as a redirect with a message; None when it can."""
    if quote.status == QuoteStatus.ACCEPTED:
        policy = selectors_app.policy_of_application(quote.application)
        if policy is not None and policy.quote_id == quote.pk:
            messages.info(request, _("You have already accepted this quote."))
            return redirect("policies:detail", pk=policy.pk)
    if quote.status != QuoteStatus.OFFERED:
        messages.error(request, _("This quote can no longer be accepted."))
        return _detail(quote.application)
    if quote.valid_until < timezone.localdate():
        messages.error(request, _("This quote has expired. Ask for a new one."))
        return _detail(quote.application)
    return None


def _token_age(token: str) -> int | None:
    """Seconds since the notice token was signed (for the page's countdown only: the service
    checks the token itself)."""
    try:
        stamp = signing.b62_decode(token.rsplit(":", 2)[1])
    except (AttributeError, IndexError, ValueError):
        return None
    return max(0, int(time.time()) - stamp)


def _instalment_plans(quote, max_instalments: int) -> dict:
    """Labels of the instalment choices, with the amounts the plan would give."""
    plans = {}
    today = timezone.localdate()
    for count in range(1, max_instalments + 1):
        plan = services.instalment_plan(quote.premium, count, today)
        if count == 1:
            plans[count] = _("Single payment of CNY %(amount)s") % {"amount": f"{plan[0][1]:,.2f}"}
        else:
            plans[count] = _("%(count)d instalments: CNY %(first)s, then CNY %(amount)s") % {
                "count": count,
                "first": f"{plan[0][1]:,.2f}",
                "amount": f"{plan[-1][1]:,.2f}",
            }
    return plans


NOTICE_SOURCES = {
    "clause": gettext_lazy("Main clause"),
    "rider": gettext_lazy("Rider"),
    "special": gettext_lazy("Special term of this quote"),
}


def _notice_rows(form) -> list[dict]:
    rows = form.rows()
    for row in rows:
        kind = row["item"].key.split("-", 1)[0]
        row["kind"] = kind
        row["kind_label"] = NOTICE_SOURCES.get(kind, "")
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def quote_notice(request, pk, quote_pk):
    """The exclusion notice (Insurance Law art. 17): every exclusion of the quote, each
    prominently shown, explained in plain words and ticked on its own; the notice confirmed as a
    whole; at least the minimum reading time measured on the server from a signed token issued
    when the page is shown. Confirming accepts the quote and creates the policy."""
    quote = selectors_app.quote_for_user(request.user, pk, quote_pk)
    refusal = _notice_refusal(request, quote)
    if refusal is not None:
        return refusal
    application = selectors_app.application_for_user(request.user, pk)
    product = application.product
    notice = services.exclusion_notice(quote)
    max_instalments = max(product.max_instalments or 1, 1)
    form_options = {
        "notice": notice,
        "max_instalments": max_instalments,
        "plans": _instalment_plans(quote, max_instalments) if max_instalments > 1 else None,
    }
    fresh = {"token": "", "text_sha256": notice.sha256}
    form = None
    if request.method == "POST":
        form = ExclusionNoticeForm(request.POST, **form_options)
        try:
            policy = services.acknowledgement_record(
                quote=quote,
                actor=request.user,
                token=request.POST.get("token") or "",
                text_sha256=request.POST.get("text_sha256") or "",
                ticks=form.ticks(),
                confirmed=form.confirmed(),
                instalments=form.instalments(),
                # The address of the connection itself: a forwarded-for header can be forged.
                ip_address=request.META.get("REMOTE_ADDR") or None,
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except DomainError as error:
            if error.code in ("transition", "expired"):
                # Accepted in another tab, withdrawn or expired meanwhile.
                quote.refresh_from_db()
                refusal = _notice_refusal(request, quote)
                if refusal is not None:
                    return refusal
            messages.error(request, error.message)
            if request.POST.get("text_sha256") != notice.sha256 or error.code == "token":
                # The text changed (or the page is too old): read it again from the start.
                form = None
        else:
            messages.success(
                request,
                _(
                    "Thank you. Your acknowledgement was recorded and the quote accepted. Pay "
                    "the first instalment to start your cover."
                ),
            )
            return redirect("policies:detail", pk=policy.pk)
    if form is None:
        fresh["token"] = services.notice_token(quote=quote, user=request.user, notice=notice)
        form = ExclusionNoticeForm(initial=fresh, **form_options)
        token = fresh["token"]
    else:
        token = request.POST.get("token") or ""
    minimum = int(getattr(settings, "EXCLUSION_NOTICE_MIN_SECONDS", 30))
    age = _token_age(token)
    context = {
        "application": application,
        "product": product,
        "quote": quote,
        "notice": notice,
        "form": form,
        "rows": _notice_rows(form),
        "min_seconds": minimum,
        "remaining_seconds": max(0, minimum - (age or 0)),
        "limits": [
            {"name": _section_names(application.clause_version).get(code, code), "amount": value}
            for code, value in (quote.limits or {}).items()
        ],
        "deductible": _deductible_label(application.clause_version, quote.deductible),
        "riders": _rider_names(application.clause_version, quote.rider_codes),
    }
    return render(request, "underwriting/app/notice.html", context)


@login_required
@require_POST
def application_withdraw(request, pk):
    application = selectors_app.application_for_user(request.user, pk)
    try:
        services.application_withdraw(
            application=application,
            actor=request.user,
            reason=(request.POST.get("reason") or "").strip()[:1000],
        )
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The application was withdrawn."))
    return _detail(application)


@login_required
@require_GET
def quote_pdf(request, pk, quote_pk):
    """The quote as a PDF, only for members of the firm, always as a download."""
    quote = selectors_app.quote_for_user(request.user, pk, quote_pk)
    if quote.pdf_status != DocumentStatus.READY or not quote.pdf:
        raise Http404
    try:
        handle = quote.pdf.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"{quote.number}.pdf",
        content_type="application/pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
