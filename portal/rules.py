"""Who may do what with the shared kernel's objects, as ``rules`` predicates."""

import rules

from portal.choices import MembershipRole


@rules.predicate
def is_firm_member(user, firm):
    if firm is None or not user.is_authenticated:
        return False
    return firm.memberships.filter(user=user).exists()


@rules.predicate
def is_firm_owner(user, firm):
    if firm is None or not user.is_authenticated:
        return False
    return firm.memberships.filter(user=user, role=MembershipRole.OWNER).exists()


@rules.predicate
def is_member_of_asset_firm(user, asset):
    return asset is not None and is_firm_member(user, asset.firm)


@rules.predicate
def is_officer(user):
    return user.is_authenticated and user.is_officer


rules.add_perm("portal.view_firm_workspace", is_firm_member)
rules.add_perm("portal.manage_firm", is_firm_owner)
rules.add_perm("portal.view_own_ipasset", is_member_of_asset_firm)
rules.add_perm("portal.change_own_ipasset", is_member_of_asset_firm)
rules.add_perm("portal.use_officer_workspace", is_officer)
