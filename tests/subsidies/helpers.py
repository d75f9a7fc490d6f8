"""Builders for the subsidy tests: a paid policy of a Wuxi firm, a programme with a budget, an
officer of the programme's authority, and a request that reached the officers' queue."""

from datetime import date
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from portal.models import Authority, OfficerMembership
from subsidies import services
from subsidies.models import Budget, Programme
from tests.claims.helpers import in_force_policy, pdf_bytes
from tests.underwriting.admin_helpers import staff

DOCUMENTS = [
    {"code": "application_form", "zh": "保费补贴申请表", "en": "Subsidy application form"},
    {"code": "payment_proof", "zh": "保费缴纳凭证及发票", "en": "Proof of premium payment"},
]


def authority(region_code="320200", name="无锡市知识产权局") -> Authority:
    found = Authority.objects.filter(region_code=region_code).first()
    return found or Authority.objects.create(
        region_code=region_code, name_zh=name, name_en=f"Authority {region_code}", level="city"
    )


def officer_of(auth: Authority, email: str):
    user = staff(email)  # a user with TOTP, as officers must have
    user.is_staff = False
    user.save(update_fields=["is_staff"])
    OfficerMembership.objects.create(user=user, authority=auth)
    return user


def programme(auth: Authority, *, code="wuxi-test", budget="1000000", **fields) -> Programme:
    year = timezone.localdate().year
    values = {
        "name_zh": "无锡市知识产权保险保费补贴",
        "name_en": "Wuxi IP insurance premium subsidy",
        "region_prefix": auth.region_code[:4],
        "rate_first": Decimal("50"),
        "cap_per_item": Decimal("300000"),
        "window_start": date(year, 1, 1),
        "window_end": date(year, 12, 31),
        "required_documents": DOCUMENTS,
    }
    values.update(fields)
    created = Programme.objects.create(authority=auth, code=code, **values)
    Budget.objects.create(programme=created, year=year, amount=Decimal(budget))
    return created


def upload(name="form.pdf", salt=b""):
    return SimpleUploadedFile(name, pdf_bytes(1) + salt, content_type="application/pdf")


def submitted_request(policy, prog, user, *, high_value=False):
    """Created, documents uploaded, submitted and checked: in the officers' queue."""
    request = services.subsidy_request_create(
        policy=policy, programme=prog, actor=user, high_value=high_value
    )
    for position, document in enumerate(prog.required_documents):
        services.subsidy_document_upload(
            request=request,
            actor=user,
            code=document["code"],
            uploaded_file=upload(salt=b"%d-%d" % (request.pk, position)),
        )
    services.subsidy_request_submit(request=request, actor=user)
    services.eligibility_check(request.pk)
    request.refresh_from_db()
    return request


__all__ = ["in_force_policy", "officer_of", "programme", "submitted_request", "authority"]
