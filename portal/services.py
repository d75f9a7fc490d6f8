"""Writes of the shared kernel: firms, memberships, invitations and IP assets."""

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import ipnumbers
from portal.choices import AssetKind, LegalStatus, MembershipRole
from portal.errors import DomainError, PermissionDenied
from portal.history import acting_as
from portal.models import Firm, Invitation, IPAsset, Membership, User

SESSION_ACTIVE_FIRM = "active_firm_id"


# --- Firms and memberships ---------------------------------------------------------------------


@transaction.atomic
def firm_register(*, user: User, **fields) -> Firm:
    """Create a firm and make ``user`` its first owner."""
    with acting_as(user):
        firm = Firm(**fields)
        firm.full_clean()
        firm.save()
        Membership.objects.create(user=user, firm=firm, role=MembershipRole.OWNER)
    return firm


def firm_update(*, firm: Firm, actor: User, **fields) -> Firm:
    _require_owner(firm=firm, user=actor)
    with acting_as(actor), transaction.atomic():
        for name, value in fields.items():
            setattr(firm, name, value)
        firm.full_clean()
        firm.save()
    return firm


def _require_owner(*, firm: Firm, user: User) -> Membership:
    membership = Membership.objects.filter(firm=firm, user=user).first()
    if membership is None or not membership.is_owner:
        raise PermissionDenied(_("Only an owner of the firm may do this."))
    return membership


def active_firm_set(*, request, firm_id: int) -> Firm:
    membership = (
        Membership.objects.select_related("firm").filter(user=request.user, firm_id=firm_id).first()
    )
    if membership is None:
        raise PermissionDenied(_("You are not a member of that firm."))
    request.session[SESSION_ACTIVE_FIRM] = membership.firm_id
    return membership.firm


@transaction.atomic
def invitation_create(*, firm: Firm, actor: User, email: str, role: str) -> Invitation:
    _require_owner(firm=firm, user=actor)
    email = User.objects.normalize_email(email).strip()
    if Membership.objects.filter(firm=firm, user__email__iexact=email).exists():
        raise DomainError(_("%(email)s is already a member of this firm.") % {"email": email})
    existing = Invitation.objects.filter(
        firm=firm, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).first()
    with acting_as(actor):
        if existing is not None:
            # Re-inviting renews the open invitation instead of piling up duplicates.
            existing.role = role
            existing.expires_at = Invitation._meta.get_field("expires_at").default()
            existing.invited_by = actor
            existing.sent_at = None  # so that the task mails the renewed invitation again
            existing.save(update_fields=["role", "expires_at", "invited_by", "sent_at"])
            invitation = existing
        else:
            invitation = Invitation.objects.create(
                firm=firm, email=email, role=role, invited_by=actor
            )
    transaction.on_commit(lambda: _enqueue_invitation(invitation.pk))
    return invitation


def _enqueue_invitation(invitation_id: int) -> None:
    """The invitation is saved; a broker outage must not turn that into an error page. It stays
    unsent and ``portal.tasks.sweep_invitation_emails`` mails it once the broker is back."""
    from portal.tasks import send_invitation_email

    try:
        send_invitation_email.delay(invitation_id)
    except Exception as error:  # noqa: BLE001 - any broker failure; the sweeper retries later
        logging.getLogger(__name__).warning(
            "could not enqueue invitation %s: %r", invitation_id, error
        )


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    invitation = (
        Invitation.objects.select_for_update().select_related("firm").filter(token=token).first()
    )
    if invitation is None or not invitation.is_open:
        raise DomainError(_("This invitation is no longer valid. Ask the firm for a new one."))
    if invitation.email.lower() != user.email.lower():
        raise PermissionDenied(
            _("This invitation was sent to %(email)s. Log in with that address to accept it.")
            % {"email": invitation.email}
        )
    with acting_as(user):
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    user=user, firm=invitation.firm, role=invitation.role
                )
        except IntegrityError:
            membership = Membership.objects.get(user=user, firm=invitation.firm)
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def invitation_revoke(*, invitation: Invitation, actor: User) -> None:
    _require_owner(firm=invitation.firm, user=actor)
    with acting_as(actor):
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User) -> None:
    _require_owner(firm=membership.firm, user=actor)
    if membership.is_owner:
        owners = Membership.objects.select_for_update().filter(
            firm=membership.firm, role=MembershipRole.OWNER
        )
        if owners.count() <= 1:
            raise DomainError(_("A firm must keep at least one owner."))
    with acting_as(actor):
        membership.delete()
    # API tokens act for the whole person; someone who leaves a firm starts again with new ones.
    from knox.models import AuthToken

    AuthToken.objects.filter(user_id=membership.user_id).delete()


# --- IP assets ---------------------------------------------------------------------------------


def number_error_message(error: ipnumbers.InvalidNumber) -> str:
    messages = {
        "patent_format": _(
            "A Chinese patent number has 12 digits (8 for filings before 2003), a dot and a "
            "check character, for example ZL201510012345.3; a ZL or CN prefix is optional."
        ),
        "patent_type_digit": _(
            "The type digit of this patent number is not 1, 2, 3, 8 or 9 (invention, utility "
            "model, design, PCT invention, PCT utility model)."
        ),
        "patent_check": _(
            "The check character of this patent number does not match its digits: it should "
            "be %(expected)s. Please check the number for a typing error."
        )
        % {"expected": error.expected},
        "trademark_format": _("A trademark registration number has only digits, up to nine."),
        "copyright_format": _(
            "Enter the registration number as printed on the certificate, for example "
            "2023SR0123456 for software or 国作登字-2023-F-00012345 for a work."
        ),
        "plant_variety_format": _(
            "A plant variety right number starts with CNA followed by digits, for example "
            "CNA20191234.5."
        ),
        "ic_layout_format": _(
            "A layout-design registration number has 8 or 9 digits, a dot and a check character, "
            "for example BS.215500123.4."
        ),
    }
    return messages.get(error.code, _("This number does not have a valid format."))


def _derive_asset_fields(asset: IPAsset) -> None:
    """Fill what follows from the law once the user's input is known."""
    if asset.kind == AssetKind.PATENT and asset.number:
        try:
            parsed = ipnumbers.parse_cn_patent_number(asset.number)
        except ipnumbers.InvalidNumber as error:
            raise DomainError(number_error_message(error), code=error.code) from None
        asset.number = str(parsed)
        if not asset.patent_type and parsed.patent_type:
            asset.patent_type = parsed.patent_type
    if asset.kind == AssetKind.PATENT and asset.filing_date and asset.patent_type:
        asset.expiry_date = ipnumbers.patent_expiry(asset.patent_type, asset.filing_date)
    if asset.kind == AssetKind.TRADEMARK and asset.grant_date and not asset.expiry_date:
        asset.expiry_date = ipnumbers.trademark_expiry(asset.grant_date)
    if asset.kind != AssetKind.PATENT:
        asset.patent_type = ""
        asset.claim_count = None
    if asset.kind == AssetKind.TRADE_SECRET:
        asset.number = ""
    if (
        asset.expiry_date
        and asset.legal_status == LegalStatus.GRANTED
        and asset.expiry_date < timezone.localdate()
    ):
        asset.legal_status = LegalStatus.EXPIRED


def _duplicate_asset_error(asset: IPAsset) -> DomainError:
    return DomainError(
        _("This firm already has a %(kind)s with number %(number)s.")
        % {"kind": asset.get_kind_display(), "number": asset.number},
        code="duplicate",
    )


def _save_asset(asset: IPAsset, actor: User) -> IPAsset:
    _derive_asset_fields(asset)
    # Constraints are checked below and by the database: full_clean() would report the
    # one-number-per-firm constraint as a ValidationError that no caller expects.
    try:
        asset.full_clean(validate_constraints=False)
    except ValidationError as error:
        raise DomainError(" ".join(error.messages)) from None
    if asset.number:
        same_number = IPAsset.objects.filter(
            firm_id=asset.firm_id, kind=asset.kind, number=asset.number
        ).exclude(pk=asset.pk)
        if same_number.exists():
            raise _duplicate_asset_error(asset)
    with acting_as(actor):
        try:
            with transaction.atomic():
                asset.save()
        except IntegrityError:  # a concurrent save took the number first
            raise _duplicate_asset_error(asset) from None
    return asset


def require_member(*, firm: Firm, user: User) -> None:
    if not Membership.objects.filter(firm=firm, user=user).exists():
        raise PermissionDenied(_("You are not a member of that firm."))


def ip_asset_create(*, firm: Firm, actor: User, **fields) -> IPAsset:
    require_member(firm=firm, user=actor)
    return _save_asset(IPAsset(firm=firm, **fields), actor)


def ip_asset_update(*, asset: IPAsset, actor: User, **fields) -> IPAsset:
    require_member(firm=asset.firm, user=actor)
    for name, value in fields.items():
        setattr(asset, name, value)
    if asset.kind == AssetKind.PATENT and "expiry_date" not in fields:
        asset.expiry_date = None
    return _save_asset(asset, actor)


def ip_asset_delete(*, asset: IPAsset, actor: User) -> None:
    require_member(firm=asset.firm, user=actor)
    with acting_as(actor):
        asset.delete()
