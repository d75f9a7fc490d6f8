"""The objects the permission matrix fills URLs with: one of each kind, all belonging to firm A and
authority X, made through the services the pages use (files are written straight to storage where
the real ones come from a background task that a rolled-back test never runs).

``build`` returns a flat dict of names to values (mostly primary keys) that the matrix's URL
kwargs refer to.
"""

from datetime import timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from knox.models import AuthToken

from claims import services as claim_services
from claims.choices import LetterKind, LetterStatus
from claims.models import ClaimLetter
from portal import services as portal_services
from portal.choices import MembershipRole
from portal.models import OutboxEmail
from subsidies import services as subsidy_services
from tests.claims.helpers import in_force_policy, notify_claim, pdf_bytes, pdf_upload
from tests.factories import MembershipFactory
from tests.subsidies.helpers import programme, submitted_request
from tests.underwriting.admin_helpers import staff
from tests.underwriting.application_helpers import filled_application, granted_patent
from underwriting import services
from underwriting.choices import ApplicationStatus, DocumentStatus, QuoteStatus
from underwriting.models import (
    CoefficientTable,
    Insurer,
    Product,
    Questionnaire,
    Rider,
    UnderwriterAuthority,
    UnderwritingRule,
)

# One transparent pixel: a real PNG for the claim document's preview.
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU"
    b"\x00\x00\x00\nIDATx\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00\x00\x00\x00IEND\xaeB`\x82"
)
# A sandbox quote's product: the enforcement cover every helper applies for.
PRODUCT = "PAT-ENF"


def _history_id(obj) -> int:
    return obj.history.order_by("-history_id").first().history_id


def _submitted(firm, user, **answers):
    application = filled_application(firm, user, product_code=PRODUCT, **answers)
    return services.application_submit(application=application, actor=user, declaration=True)


def _stored(path: str, content: bytes) -> str:
    return default_storage.save(path, ContentFile(content))


def build(*, firm_a, applicant_a, underwriter, claims_handler, officer_x) -> dict:
    ids = {}
    authority_x = officer_x.officer_membership.authority
    handler = staff("matrix-handler@example.test", "claims_handler")

    # --- The firm: a plain member, an open invitation, an asset, API tokens --------------------
    member = MembershipFactory(firm=firm_a, role=MembershipRole.MEMBER)
    invitation = portal_services.invitation_create(
        firm=firm_a, actor=applicant_a, email="invited@example.test", role=MembershipRole.MEMBER
    )
    asset = granted_patent(firm_a)
    token, _key = AuthToken.objects.create(applicant_a)
    officer_token, _key = AuthToken.objects.create(officer_x)
    ids.update(
        firm=firm_a.pk,
        membership=member.pk,
        invitation=invitation.pk,
        invitation_token=invitation.token,
        asset=asset.pk,
        token_key=token.token_key,
        token_digest=token.pk,
        officer_token_key=officer_token.token_key,
    )

    # --- Applications: a draft, one quoted at once, one referred, one with a question ---------
    product = Product.objects.get(code=PRODUCT)
    draft = services.application_start(firm=firm_a, actor=applicant_a, product=product)
    quoted = _submitted(firm_a, applicant_a)
    assert quoted.status == ApplicationStatus.QUOTED, quoted.status
    quote = quoted.quotes.get(status=QuoteStatus.OFFERED)
    quote.pdf.save(f"{quote.number}.pdf", ContentFile(pdf_bytes()), save=False)
    quote.pdf_status = DocumentStatus.READY
    quote.save(update_fields=["pdf", "pdf_status"])
    referred = _submitted(firm_a, applicant_a, risk={"sales_regions": ["cn", "us_ca"]})
    assert referred.status == ApplicationStatus.REFERRED, referred.status
    asked = _submitted(firm_a, applicant_a, risk={"sales_regions": ["cn", "us_ca"]})
    question = services.application_ask(
        application=asked, actor=underwriter, question="Which distributors sell in the US?"
    )
    ids.update(
        product_code=PRODUCT,
        draft=draft.pk,
        quoted=quoted.pk,
        quoted_asset=quoted.insured_assets.first().asset_id,
        quote=quote.pk,
        referred=referred.pk,
        asked=asked.pk,
        question=question.pk,
    )

    # --- The policy: in force, paid, with its document -----------------------------------------
    policy = in_force_policy(firm_a, applicant_a)
    document = policy.documents.get(is_current=True)
    document.file.save(f"{policy.pk}-v{document.version}.pdf", ContentFile(pdf_bytes()), False)
    document.status = DocumentStatus.READY
    document.save(update_fields=["file", "status"])
    instalment = policy.instalments.get(sequence=1)
    ids.update(
        policy=policy.pk,
        policy_number=policy.number,
        policy_document=document.pk,
        instalment=instalment.pk,
        payment=instalment.payments.get().pk,
        acknowledgement=policy.acknowledgement_id,
    )

    # --- Claims: one just reported with a document and a letter; one paid, so that the sum
    #     insured is eroded and its restoration can be asked for --------------------------------
    claim = notify_claim(policy, applicant_a)
    claim_document = claim_services.claim_document_upload(
        claim=claim, actor=applicant_a, code="policy", uploaded_file=pdf_upload(salt=b"matrix")
    )
    claim_services.claim_document_process(claim_document.pk)
    claim_document.refresh_from_db()
    if not claim_document.preview:
        claim_document.preview = _stored(f"claims/{claim.pk}/preview.png", PNG)
        claim_document.save(update_fields=["preview"])
    letter = ClaimLetter.objects.create(
        claim=claim,
        kind=LetterKind.REJECTION,
        reference=f"{claim.number}-R1",
        status=LetterStatus.READY,
        file=_stored(f"claims/{claim.pk}/{claim.number}-R1.pdf", pdf_bytes()),
        ready_at=timezone.now(),
    )
    paid = notify_claim(policy, applicant_a)
    for position, item in enumerate(claim_services.checklist(paid)):
        if item.get("required"):
            uploaded = claim_services.claim_document_upload(
                claim=paid,
                actor=applicant_a,
                code=item["code"],
                uploaded_file=pdf_upload(salt=b"paid-%d" % position),
            )
            claim_services.claim_document_process(uploaded.pk)
    paid = claim_services.claim_documents_complete(claim=paid, actor=handler)
    claim_services.claim_assess(
        claim=paid,
        actor=handler,
        items=[{"loss": "100000", "insured_value": "200000", "sum_insured": "50000"}],
        deductible_amount="5000",
    )
    claim_services.claim_decide(claim=paid, actor=handler, decision="accept")
    paid = claim_services.claim_settle(claim=paid, actor=handler)
    claim_payment = claim_services.claim_payment_record(
        claim=paid, actor=handler, kind="final", amount="20000", reference="MATRIX-P-1"
    )
    claim_services.subrogation_start(claim=paid, actor=handler, liable_party="Copycat Ltd")
    recovery = claim_services.recovery_record(
        claim=paid, actor=handler, amount="1000", reference="MATRIX-R-1"
    )
    policy.refresh_from_db()
    reinstatement = claim_services.reinstatement_request(
        policy=policy, actor=applicant_a, amount=Decimal("20000")
    )
    ids.update(
        claim=claim.pk,
        claim_document=claim_document.pk,
        letter=letter.pk,
        paid_claim=paid.pk,
        claim_payment=claim_payment.pk,
        recovery=recovery.pk,
        reinstatement=reinstatement.pk,
    )

    # --- Subsidies in authority X: a request in the queue, one paid in a batch, one that drew
    #     an objection, and a programme the policy has not applied to yet -----------------------
    queue_programme = programme(authority_x, code="matrix-queue")
    queued = submitted_request(policy, queue_programme, applicant_a)
    batched = submitted_request(policy, programme(authority_x, code="matrix-batch"), applicant_a)
    batched = subsidy_services.subsidy_approve(request=batched, actor=officer_x)
    subsidy_services.subsidy_publish(
        request=batched, actor=officer_x, today=timezone.localdate() - timedelta(days=30)
    )
    batch = subsidy_services.batch_create(actor=officer_x, request_ids=[batched.pk])
    objected = submitted_request(policy, programme(authority_x, code="matrix-obj"), applicant_a)
    objected = subsidy_services.subsidy_approve(request=objected, actor=officer_x)
    subsidy_services.subsidy_publish(request=objected, actor=officer_x)
    subsidy_services.objection_record(
        request=objected, actor=officer_x, raised_by="A neighbour", text="Not a Wuxi firm."
    )
    open_programme = programme(authority_x, code="matrix-open")
    ids.update(
        authority=authority_x.pk,
        officer_membership=officer_x.officer_membership.pk,
        programme=queue_programme.pk,
        open_programme_code=open_programme.code,
        subsidy=queued.pk,
        subsidy_document=queued.documents.first().pk,
        batched=batched.pk,
        batch=batch.pk,
        objected=objected.pk,
    )

    # --- What only the admin shows -------------------------------------------------------------
    version = product.clause_versions.order_by("pk").first()
    authority_row = UnderwriterAuthority.objects.create(
        user=underwriter, max_sum_insured=Decimal("500000")
    )
    ids.update(
        group=Group.objects.get(name="underwriter").pk,
        email_address=EmailAddress.objects.get(user=applicant_a).pk,
        authenticator=Authenticator.objects.filter(user=underwriter).first().pk,
        user=applicant_a.pk,
        # Tests send mail to memory; a row as the development backend keeps one.
        outbox_email=OutboxEmail.objects.create(
            to="invited@example.test", subject="Invitation", body="Join firm A."
        ).pk,
        insurer=Insurer.objects.first().pk,
        product=product.pk,
        rider=Rider.objects.first().pk,
        clause_version=version.pk,
        coefficient_table=CoefficientTable.objects.first().pk,
        underwriter_authority=authority_row.pk,
        questionnaire=Questionnaire.objects.first().pk,
        underwriting_rule=UnderwritingRule.objects.first().pk,
        policy_content_type=ContentType.objects.get_for_model(policy).pk,
    )
    history = {
        "firm": firm_a,
        "membership": member,
        "invitation": invitation,
        "authority": authority_x,
        "officer_membership": officer_x.officer_membership,
        "asset": asset,
        "product": product,
        "rider": Rider.objects.get(pk=ids["rider"]),
        "clause_version": version,
        "referred": referred,
        "quote": quote,
        "underwriter_authority": authority_row,
        "underwriting_rule": UnderwritingRule.objects.get(pk=ids["underwriting_rule"]),
        "policy": policy,
        "payment": instalment.payments.get(),
        "claim": claim,
        "claim_payment": claim_payment,
        "reinstatement": reinstatement,
        "programme": queue_programme,
        "subsidy": queued,
        "batch": batch,
    }
    for name, obj in history.items():
        ids[f"history_{name}"] = _history_id(obj)
    # What only firm A's members (and the staff and officers who handle its business) may read.
    ids["references"] = [
        firm_a.uscc,
        token.token_key,
        asset.number,
        policy.number,
        quote.number,
        claim.number,
        paid.number,
        queued.number,
        *(a.reference for a in (draft, quoted, referred, asked)),
    ]
    return ids
