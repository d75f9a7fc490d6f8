"""Both message catalogues are complete: every string of the code is in them, translated."""

import re
import shutil
from pathlib import Path

import polib
import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = {
    "zh_Hans": ROOT / "locale/zh_Hans/LC_MESSAGES/django.po",
    "en": ROOT / "locale/en/LC_MESSAGES/django.po",
}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _entries(path):
    return [entry for entry in polib.pofile(str(path)) if not entry.obsolete]


@pytest.mark.parametrize("language", sorted(CATALOGUES))
def test_catalogue_is_fully_translated(language):
    problems = []
    for entry in _entries(CATALOGUES[language]):
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.msgid!r}")
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        if not all(translations):
            problems.append(f"untranslated: {entry.msgid!r}")
        for text in translations:
            if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(entry.msgid)):
                problems.append(f"placeholders differ: {entry.msgid!r} → {text!r}")
    assert not problems, "\n".join(problems[:20])


def test_catalogues_contain_every_string_of_the_code():
    probe = ROOT / "locale" / "qa"
    try:
        call_command(
            "makemessages",
            locale=["qa"],
            ignore_patterns=[".venv/*", "var/*", "tests/*"],
            no_obsolete=True,
            verbosity=0,
        )
        wanted = {entry.msgid for entry in _entries(probe / "LC_MESSAGES/django.po")}
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    for language, path in CATALOGUES.items():
        have = {entry.msgid for entry in _entries(path)}
        missing = sorted(wanted - have)
        assert not missing, f"{language} lacks {len(missing)} strings, e.g. {missing[:5]}"


def test_translation_functions_keep_names_makemessages_knows():
    """makemessages only finds strings marked with _ or the gettext names themselves; a string
    marked with another alias (say ``_lazy``) would never reach the catalogues."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    alias = re.compile(
        r"from django\.utils\.translation import .*\b(?:n|p|np)?gettext(?:_lazy)? as (?!_\b)\w+"
    )
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for app in ("portal", "underwriting", "claims", "subsidies")
        for path in (root / app).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if alias.search(line)
    ]
    assert offenders == []
