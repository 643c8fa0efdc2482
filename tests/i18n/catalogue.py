"""Read the English catalogue and the translatable strings in the source, without gettext tools.

`makemessages` needs GNU gettext; these helpers let the tests check the committed catalogue on a machine
that has only Python.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation.template import templatize

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "health_f0"
PO_PATH = PACKAGE / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")

# The keywords `makemessages` passes to xgettext (plus xgettext's own Python defaults).
SINGULAR = {"_", "gettext", "gettext_lazy", "gettext_noop", "ugettext", "ugettext_lazy"}
PLURAL = {"ngettext", "ngettext_lazy"}
CONTEXT = {"pgettext", "pgettext_lazy"}
CONTEXT_PLURAL = {"npgettext", "npgettext_lazy"}


@dataclass
class Entry:
    msgid: str
    msgstr: list[str]
    msgid_plural: str | None = None
    msgctxt: str | None = None
    flags: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)


def _unquote(text: str) -> str:
    value = ast.literal_eval(text)
    assert isinstance(value, str)
    return value


def read_po(path: Path = PO_PATH) -> list[Entry]:
    """Every entry except the header, in file order. Obsolete (#~) entries are skipped."""
    entries: list[Entry] = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        flags: set[str] = set()
        refs: list[str] = []
        fields: dict[str, str] = {}
        current = ""
        for line in block.splitlines():
            if line.startswith("#,"):
                flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            elif line.startswith("#:"):
                refs += line[2:].split()
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                fields[current] += _unquote(line)
            elif line.strip():
                current, rest = line.split(" ", 1)
                fields[current] = _unquote(rest)
        if "msgid" not in fields or (fields["msgid"] == "" and "msgctxt" not in fields):
            continue  # header or an obsolete-only block
        msgstr = [fields[k] for k in sorted(fields) if k.startswith("msgstr")]
        entries.append(
            Entry(
                msgid=fields["msgid"],
                msgstr=msgstr,
                msgid_plural=fields.get("msgid_plural"),
                msgctxt=fields.get("msgctxt"),
                flags=flags,
                references=refs,
            )
        )
    return entries


def _python_strings(path: Path) -> dict[tuple[str | None, str], bool]:
    """Wrapped literals in one module, each mapped to "is it only inside an f-string?"."""
    found: dict[tuple[str | None, str], bool] = {}
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    # xgettext does not look inside f-strings, so a gettext() call there never reaches the catalogue.
    in_fstring = {id(n) for f in ast.walk(tree) if isinstance(f, ast.JoinedStr) for n in ast.walk(f)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        args = [
            a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None for a in node.args
        ]
        key: tuple[str | None, str] | None = None
        if name in SINGULAR | PLURAL and args and args[0] is not None:
            key = (None, args[0])
        elif (
            name in CONTEXT | CONTEXT_PLURAL
            and len(args) >= 2
            and args[0] is not None
            and args[1] is not None
        ):
            key = (args[0], args[1])
        if key is not None:
            found[key] = found.get(key, True) and id(node) in in_fstring
    return found


_LITERAL = r"""u?(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_TEMPLATE_CALL = re.compile(
    rf"(?<![\w.])(_|gettext|ngettext|pgettext|npgettext)\(\s*({_LITERAL})(?:\s*,\s*({_LITERAL}))?"
)


def _template_strings(path: Path) -> set[tuple[str | None, str]]:
    # Django's own template-to-gettext conversion, exactly what makemessages feeds to xgettext.
    code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
    found: set[tuple[str | None, str]] = set()
    for func, first, second in _TEMPLATE_CALL.findall(code):
        if func in ("pgettext", "npgettext"):
            found.add((_unquote(first.lstrip("u")), _unquote(second.lstrip("u"))))
        else:
            found.add((None, _unquote(first.lstrip("u"))))
    return found


def source_strings() -> dict[tuple[str | None, str], str]:
    """(context, msgid) of every literal wrapped for translation in health_f0, mapped to one file using it."""
    found: dict[tuple[str | None, str], str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for key, only_in_fstring in _python_strings(path).items():
            where = str(path.relative_to(ROOT))
            if only_in_fstring:
                where += ": inside an f-string, where makemessages cannot see it; move the call out of the f-string"
            found.setdefault(key, where)
    templates = sorted(PACKAGE.rglob("templates/**/*.html")) + sorted(PACKAGE.rglob("templates/**/*.txt"))
    # The portal's Jinja2 templates follow health_f0/www/jinja.py's conventions, which templatize reads.
    for path in templates + sorted(PACKAGE.rglob("jinja2/**/*.html")):
        for key in _template_strings(path):
            found.setdefault(key, str(path.relative_to(ROOT)))
    return found


PLACEHOLDER = re.compile(r"%\([a-zA-Z_][a-zA-Z0-9_]*\)[sd]|%[sd]|\{[a-zA-Z_][a-zA-Z0-9_]*\}")


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text.replace("%%", "")))
