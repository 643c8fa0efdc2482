"""Guidance bodies are plain text written in the desk. They are shown with a tiny, safe structure:
blank lines separate paragraphs, a line starting with "## " is a heading, lines starting with "- " form a
list. Everything else is escaped: no HTML typed into the desk ever reaches the page as markup."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def _close(html: list[str], paragraph: list[str], items: list[str]) -> None:
    if paragraph:
        html.append("<p>" + "<br>".join(escape(p) for p in paragraph) + "</p>")
        paragraph.clear()
    if items:
        html.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
        items.clear()


def render_plain(body: str) -> SafeString:
    html: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    for raw in (body or "").replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line:
            _close(html, paragraph, items)
        elif line.startswith("## "):
            _close(html, paragraph, items)
            html.append(f"<h2>{escape(line[3:].strip())}</h2>")
        elif line.startswith(("- ", "• ")):
            if paragraph:
                _close(html, paragraph, items)
            items.append(line[2:].strip())
        else:
            if items:
                _close(html, paragraph, items)
            paragraph.append(line)
    _close(html, paragraph, items)
    return mark_safe("".join(html))  # noqa: S308 - every piece of text above is escaped
