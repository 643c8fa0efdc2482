"""Capture the portal pages' HTML for bench accounts, and compare two captures (issue 11: the Jinja2 move
must not change a page). Each page is taken for each account, in Vietnamese and English, first page and the
page reached by following "Trang sau" --deep times; CSRF tokens are masked and runs of whitespace collapsed
before comparing.

    <bench env> ALLOWED_HOSTS=testserver .venv/bin/python bench/portal_html.py capture DIR \\
        [--pages /lich-hen,/ca-nhan] [--accounts 40] [--deep 1] [--tokens FILE | --pick rich]
    .venv/bin/python bench/portal_html.py compare DIR_BEFORE DIR_AFTER
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

CSRF = re.compile(r'(name="(?:csrfmiddlewaretoken|idempotency_key)" value=")[^"]+(")')
SPACE = re.compile(r"\s+")
TAG_GAP = re.compile(r">\s+<")


def normalise(html: str) -> str:
    html = CSRF.sub(r"\1…\2", html)
    return TAG_GAP.sub("><", SPACE.sub(" ", html)).strip()


def capture(args: argparse.Namespace) -> None:
    from _django import setup

    setup()
    from django.conf import settings
    from portal_lists import NEXT, Sessions, accounts

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    users = accounts(Path(args.tokens), args.accounts, pick=args.pick)
    sessions = Sessions(users)
    n = 0
    for i in range(len(sessions)):
        for lang in ("vi", "en"):
            sessions.jars[i][settings.LANGUAGE_COOKIE_NAME] = lang
            for page in args.pages.split(","):
                url = page
                for depth in range(args.deep + 1):
                    response = sessions.get(i, url)
                    body = response.content.decode()
                    name = f"{users[i].pk}-{lang}-{page.strip('/').replace('/', '_')}-{depth}.html"
                    (out / name).write_text(f"{response.status_code}\n{normalise(body)}\n")
                    n += 1
                    match = NEXT.search(body)
                    if match is None:
                        break
                    url = match.group(1).replace("&amp;", "&")
    print(f"{n} pages of {len(sessions)} accounts written to {out}")


def compare(args: argparse.Namespace) -> None:
    before, after = Path(args.before), Path(args.after)
    names = sorted({p.name for p in before.glob("*.html")} | {p.name for p in after.glob("*.html")})
    differ = 0
    for name in names:
        a, b = before / name, after / name
        if not a.exists() or not b.exists():
            print(f"only in {'after' if b.exists() else 'before'}: {name}")
            differ += 1
            continue
        old, new = a.read_text(), b.read_text()
        if old != new:
            differ += 1
            if differ <= args.show:
                print(f"--- {name}")
                old_parts, new_parts = (
                    old.replace("><", ">\n<").split("\n"),
                    new.replace("><", ">\n<").split("\n"),
                )
                for line in difflib.unified_diff(old_parts, new_parts, lineterm="", n=1):
                    print(line[:300])
    print(f"{len(names)} pages compared, {differ} differ")
    sys.exit(1 if differ else 0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("dir")
    cap.add_argument(
        "--pages", default="/lich-su,/ho-so-kham,/ket-qua-xet-nghiem,/lich-hen,/lien-ket-ho-so,/ca-nhan"
    )
    cap.add_argument("--accounts", type=int, default=40)
    cap.add_argument("--deep", type=int, default=1)
    cap.add_argument(
        "--tokens", default=str(Path(__file__).resolve().parent / "out" / "patient_tokens_all.txt")
    )
    cap.add_argument("--pick", default="", choices=["", "rich", "heavy", "any"])
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before")
    cmp_.add_argument("after")
    cmp_.add_argument("--show", type=int, default=5)
    args = parser.parse_args()
    capture(args) if args.command == "capture" else compare(args)


if __name__ == "__main__":
    main()
