"""What the policy page shows about claims, provided by the claims app so that underwriting does
not import claims: ``{% load claims_tags %}{% policy_claims policy %}``."""

from django import template

from claims import selectors
from claims.services import CLAIMABLE_POLICY_STATUSES
from underwriting.choices import PolicyStatus

register = template.Library()


@register.inclusion_tag("claims/_policy_claims.html")
def policy_claims(policy):
    """The claims on ``policy`` (which the caller has already scoped to the user's firms), its
    remaining sum insured against the sum insured, and the links to report a claim or to
    restore the sum insured."""
    claims = list(selectors.claims_of_policy(policy))
    restorable = (
        policy.status == PolicyStatus.IN_FORCE and policy.remaining_sum_insured < policy.sum_insured
    )
    percent = (
        int(policy.remaining_sum_insured * 100 / policy.sum_insured) if policy.sum_insured else 0
    )
    return {
        # Nothing to say about claims on a policy that never gave cover and has none.
        "show": bool(claims)
        or policy.status in (PolicyStatus.ISSUED, PolicyStatus.IN_FORCE, PolicyStatus.EXPIRED),
        "policy": policy,
        "claims": claims,
        "can_report": policy.status in CLAIMABLE_POLICY_STATUSES,
        "can_restore": restorable,
        "open_reinstatement": selectors.open_reinstatement(policy) if restorable else None,
        "remaining_percent": max(0, min(100, percent)),
    }
