"""The canonical text of a clause version and its SHA-256. Pure: takes plain data.

The text is what the applicant is shown and acknowledges (in both languages), rendered
deterministically so that the hash of a published version can be recomputed and compared at any
time — the evidence that the wording shown is the wording sold.
"""

import hashlib
from collections.abc import Mapping, Sequence

LANGUAGES = ("zh", "en")

HEADINGS = {
    "zh": {
        "object": "保险标的",
        "causes": "保险责任",
        "exclusions": "责任免除",
        "obligations": "投保人、被保险人义务",
        "documents": "索赔材料",
        "deductible": "免赔规定",
        "short_rate": "短期费率表（已生效月数：占年保费百分比）",
        "explanation": "说明",
        "required": "必需",
        "optional": "可选",
    },
    "en": {
        "object": "Insured object",
        "causes": "Covered causes",
        "exclusions": "Exclusions",
        "obligations": "Obligations of the policyholder and the insured",
        "documents": "Claim documents",
        "deductible": "Deductible",
        "short_rate": "Short-period rates (months elapsed: % of annual premium)",
        "explanation": "Explanation",
        "required": "required",
        "optional": "optional",
    },
}


def _t(value, language: str) -> str:
    if isinstance(value, Mapping):
        return str(value.get(language) or "").strip()
    return str(value or "").strip()


def render_clause_text(
    *,
    title: Mapping,
    label: str,
    effective_date: str,
    insured_object: Mapping,
    covered_causes: Sequence[Mapping],
    exclusions: Sequence[Mapping],
    obligations: Sequence[Mapping],
    claim_documents: Sequence[Mapping],
    deductible_rules: Mapping,
    short_rate_table: Sequence[int],
) -> str:
    parts = []
    for language in LANGUAGES:
        h = HEADINGS[language]
        lines = [f"{_t(title, language)} · {label} · {effective_date}", ""]
        lines += [f"[{h['object']}]", _t(insured_object, language), ""]
        lines.append(f"[{h['causes']}]")
        for number, cause in enumerate(covered_causes, 1):
            lines.append(
                f"{number}. {_t(cause.get('title'), language)}: {_t(cause.get('text'), language)}"
            )
        lines += ["", f"[{h['exclusions']}]"]
        for number, item in enumerate(exclusions, 1):
            lines.append(
                f"{number}. {_t(item.get('title'), language)}: {_t(item.get('text'), language)}"
            )
            lines.append(f"   {h['explanation']}: {_t(item.get('explanation'), language)}")
        lines += ["", f"[{h['obligations']}]"]
        for number, item in enumerate(obligations, 1):
            lines.append(f"{number}. {_t(item, language)}")
        lines += ["", f"[{h['documents']}]"]
        for number, item in enumerate(claim_documents, 1):
            need = h["required"] if item.get("required") else h["optional"]
            lines.append(f"{number}. {_t(item, language)} ({need})")
        lines += ["", f"[{h['deductible']}]", _t(deductible_rules, language), ""]
        lines.append(f"[{h['short_rate']}]")
        lines.append(", ".join(f"{m}: {p}" for m, p in enumerate(short_rate_table, 1)))
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
