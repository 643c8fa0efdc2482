"""Fill the English catalogue's empty or fuzzy entries from JSON files of translations.

    .venv/bin/python scripts/i18n_merge.py translations.json [more.json ...]

Each JSON file maps a Vietnamese msgid to its English text (a list of two strings for a plural entry). Run
`manage.py makemessages` first (see tests/i18n/test_catalogue.py), then this, then `compilemessages`. Entries
still empty afterwards are printed, so nothing untranslated goes unnoticed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PO_PATH = Path(__file__).resolve().parents[1] / "health_f0" / "locale" / "en" / "LC_MESSAGES" / "django.po"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _unquote(line: str) -> str:
    value = json.loads(line)
    assert isinstance(value, str)
    return value


def _parse_block(lines: list[str]) -> dict[str, object]:
    fields: dict[str, str] = {}
    current = ""
    for line in lines:
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            fields[current] += _unquote(line)
            continue
        key, _, rest = line.partition(" ")
        current = key
        fields[current] = _unquote(rest)
    return fields


def main(paths: list[str]) -> int:
    translations: dict[str, object] = {}
    for path in paths:
        for key, value in json.loads(Path(path).read_text(encoding="utf-8")).items():
            if not key.startswith("__plural__:"):
                translations[key] = value
    blocks = PO_PATH.read_text(encoding="utf-8").split("\n\n")
    out, missing = [], []
    for index, block in enumerate(blocks):
        lines = block.strip("\n").splitlines()
        if index == 0 or not lines:
            out.append(block)
            continue
        fields = _parse_block(lines)
        msgid = str(fields.get("msgid", ""))
        if not msgid:
            out.append(block)
            continue
        plural = "msgid_plural" in fields
        current = [str(fields[k]) for k in sorted(fields) if k.startswith("msgstr")]
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        if all(current) and not fuzzy:
            out.append(block)
            continue
        value = translations.get(msgid)
        if value is None:
            if not all(current) or fuzzy:
                missing.append(msgid)
            out.append(block)
            continue
        keep = [
            line
            for line in lines
            if line.startswith("#")
            and not (line.startswith("#,") and "fuzzy" in line)
            and not line.startswith("#|")
        ]
        flags = [line for line in lines if line.startswith("#,") and "fuzzy" in line]
        for flag_line in flags:
            rest = [f.strip() for f in flag_line[2:].split(",") if f.strip() and f.strip() != "fuzzy"]
            if rest:
                keep.append("#, " + ", ".join(rest))
        body = []
        if "msgctxt" in fields:
            body.append(f"msgctxt {_quote(str(fields['msgctxt']))}")
        body.append(f"msgid {_quote(msgid)}")
        if plural:
            forms = value if isinstance(value, list) else [value, value]
            body.append(f"msgid_plural {_quote(str(fields['msgid_plural']))}")
            body += [f"msgstr[{i}] {_quote(str(form))}" for i, form in enumerate(forms[:2])]
        else:
            body.append(f"msgstr {_quote(str(value))}")
        out.append("\n".join(keep + body))
    PO_PATH.write_text("\n\n".join(out), encoding="utf-8")
    for msgid in missing:
        print(f"untranslated: {msgid!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
