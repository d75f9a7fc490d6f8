"""Complete the English catalogue: our source strings are English, so msgstr = msgid.

Run after makemessages (``make makemessages`` does). Existing translations are kept; fuzzy
flags are dropped because an identity translation cannot be stale.
"""

import sys

import polib


def fill(path: str) -> int:
    catalogue = polib.pofile(path)
    changed = 0
    for entry in catalogue:
        if entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
            entry.msgstr = ""
            entry.msgstr_plural = {k: "" for k in entry.msgstr_plural}
        if entry.msgid_plural:
            for index in entry.msgstr_plural:
                if not entry.msgstr_plural[index]:
                    entry.msgstr_plural[index] = entry.msgid if index == 0 else entry.msgid_plural
                    changed += 1
        elif not entry.msgstr:
            entry.msgstr = entry.msgid
            changed += 1
    catalogue.metadata["Language"] = "en"
    catalogue.metadata["Content-Type"] = "text/plain; charset=UTF-8"
    catalogue.save(path)
    return changed


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: filled {fill(name)} entries")
