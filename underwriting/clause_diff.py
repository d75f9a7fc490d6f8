"""What changed between two clause versions, item by item. Pure."""

from collections.abc import Mapping
from dataclasses import dataclass

FIELDS = (
    "insured_object",
    "covered_causes",
    "exclusions",
    "obligations",
    "claim_documents",
    "deductible_rules",
    "recovery_sharing",
    "short_rate_table",
    "minimum_premium",
    "rating",
)


@dataclass(frozen=True)
class Change:
    field: str
    index: int | None  # 1-based item number for lists, None for a whole field
    kind: str  # "added" | "removed" | "changed"
    old: object
    new: object


def diff_versions(old: Mapping, new: Mapping) -> list[Change]:
    changes: list[Change] = []
    for name in FIELDS:
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if isinstance(a, list) and isinstance(b, list) and name != "short_rate_table":
            for i in range(max(len(a), len(b))):
                left = a[i] if i < len(a) else None
                right = b[i] if i < len(b) else None
                if left == right:
                    continue
                kind = "added" if left is None else "removed" if right is None else "changed"
                changes.append(Change(name, i + 1, kind, left, right))
        else:
            changes.append(Change(name, None, "changed", a, b))
    return changes
