"""The English catalogue is complete, compiled and faithful to the source strings.

When one of these fails after you added or changed a Vietnamese string, run
`manage.py makemessages -l en --ignore='.venv/*' --ignore='var/*' --ignore='tests/*' --ignore='bench/*'
--no-obsolete`, translate the new entries in health_f0/locale/en/LC_MESSAGES/django.po, remove any
"#, fuzzy" flag, and run `manage.py compilemessages --ignore='.venv/*'`.
"""

from __future__ import annotations

import gettext

from tests.i18n.catalogue import MO_PATH, PO_PATH, placeholders, read_po, source_strings


def _describe(entry: object) -> str:
    msgid = getattr(entry, "msgid", "")
    refs = getattr(entry, "references", [])
    return f"{msgid!r} ({', '.join(refs[:2])})"


def test_catalogue_exists_and_is_not_empty() -> None:
    assert PO_PATH.exists(), PO_PATH
    assert MO_PATH.exists(), "compile the catalogue: manage.py compilemessages --ignore='.venv/*'"
    assert len(read_po()) > 100


def test_every_entry_is_translated() -> None:
    untranslated = [_describe(e) for e in read_po() if not e.msgstr or any(not s.strip() for s in e.msgstr)]
    assert not untranslated, "empty msgstr:\n" + "\n".join(untranslated)


def test_no_entry_is_fuzzy() -> None:
    fuzzy = [_describe(e) for e in read_po() if "fuzzy" in e.flags]
    assert not fuzzy, "fuzzy entries (check the translation, then delete the flag):\n" + "\n".join(fuzzy)


def test_plural_entries_have_both_forms() -> None:
    for entry in read_po():
        if entry.msgid_plural is not None:
            assert len(entry.msgstr) == 2, _describe(entry)


def test_translations_keep_the_placeholders() -> None:
    wrong = []
    for entry in read_po():
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        expected = placeholders(sources[-1])
        for translated in entry.msgstr:
            if placeholders(translated) != expected and placeholders(translated) != placeholders(entry.msgid):
                wrong.append(f"{_describe(entry)} -> {translated!r}")
    assert not wrong, "placeholders changed:\n" + "\n".join(wrong)


def test_compiled_catalogue_matches_the_po_file() -> None:
    """The committed .mo is what Django loads: it must hold every translation of the .po."""
    with MO_PATH.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = []
    for entry in read_po():
        if entry.msgid_plural is not None or entry.msgctxt is not None:
            continue
        if compiled.gettext(entry.msgid) != entry.msgstr[0]:
            stale.append(_describe(entry))
    assert not stale, "the .mo is out of date, run compilemessages:\n" + "\n".join(stale[:20])


def test_every_wrapped_source_string_is_in_the_catalogue() -> None:
    """A new gettext()/{% translate %} string fails here until makemessages has been run and it is translated."""
    known = {e.key for e in read_po()}
    missing = sorted(
        f"{msgid!r} ({where})"
        for (ctx, msgid), where in source_strings().items()
        if (ctx, msgid) not in known
    )
    assert not missing, "not in the English catalogue, run makemessages:\n" + "\n".join(missing)
