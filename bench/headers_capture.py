"""Capture the status line and the header list (names, values, order; Set-Cookie lines included) that the WSGI
handler gives for portal pages (signed in, signed out) and API calls (bearer token, session cookie), and compare
two captures (issue 11: the request floor's middleware must not change a header). Dates (Date, Expires, a
cookie's expires) and the cookies' values (the session key; the CSRF secret, new at each capture's sign-in) are
masked.

    <bench env> ALLOWED_HOSTS=testserver VAR_DIR=... .venv/bin/python bench/headers_capture.py capture DIR \\
        [--accounts 10] [--tokens 10]
    .venv/bin/python bench/headers_capture.py compare DIR_BEFORE DIR_AFTER

Run it from the checkout whose code answers (a copy of this file in that checkout's bench/).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import wsgi_environ  # noqa: E402

PORTAL = ["/ca-nhan", "/lich-su", "/ho-so-kham", "/ket-qua-xet-nghiem", "/lien-ket-ho-so", "/_floor-chrome"]
ANONYMOUS = ["/", "/dang-nhap", "/ca-nhan", "/api/v1/me"]
API = ["/api/v1/me", "/api/v1/declarations", "/api/v2/declarations", "/api/v1/_missing"]
DATE = re.compile(r"(expires=)[^;]+", re.IGNORECASE)
# The session key, and the CSRF secret each capture's sign-in (force_login) rotates.
SESSION_VALUE = re.compile(r"^( ?(?:sessionid|csrftoken)=)[^;]*")


def call(handler: Any, path: str, headers: dict[str, str]) -> dict[str, Any]:
    environ = wsgi_environ(path, headers)
    seen: dict[str, Any] = {}

    def start_response(line: str, response_headers: Any, exc_info: Any = None) -> None:
        seen["status"] = line
        seen["headers"] = [list(pair) for pair in response_headers]

    response = handler(environ, start_response)
    body = b"".join(response)
    response.close()
    masked = []
    for name, value in seen["headers"]:
        if name in ("Date", "Expires"):
            value = "<date>"
        elif name == "Set-Cookie":
            value = SESSION_VALUE.sub(r"\1<key>", DATE.sub(r"\1<date>", value))
        masked.append([name, value])
    return {"path": path, "status": seen["status"], "headers": masked, "length": len(body)}


def capture(directory: Path, accounts: int, tokens: int) -> None:
    from _django import OUT, setup
    from portal_floor import add_views, session_cookies

    setup()
    add_views()
    from django.conf import settings

    from health_f0.wsgi import application

    handler = type(application)()
    cookies = session_cookies(accounts)
    answers = []
    for lang in ("vi", "en"):
        for i, cookie in enumerate(cookies):
            for path in PORTAL:
                for accept in ("text/html", "*/*"):
                    answer = call(
                        handler,
                        path,
                        {"HTTP_COOKIE": cookie, "HTTP_ACCEPT_LANGUAGE": lang, "HTTP_ACCEPT": accept},
                    )
                    answers.append({"who": f"account{i}", "lang": lang, **answer})
            # The portal's own scripts: /api/ with the session cookie.
            for path in API[:1]:
                answer = call(handler, path, {"HTTP_COOKIE": cookie, "HTTP_ACCEPT_LANGUAGE": lang})
                answers.append({"who": f"account{i}", "lang": lang, **answer})
        for path in ANONYMOUS:
            answers.append(
                {"who": "anonymous", "lang": lang, **call(handler, path, {"HTTP_ACCEPT_LANGUAGE": lang})}
            )
        lines = (OUT / "tokens.txt").read_text().split()[:tokens]
        for i, token in enumerate(lines):
            for path in API:
                answer = call(
                    handler, path, {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ACCEPT_LANGUAGE": lang}
                )
                answers.append({"who": f"token{i}", "lang": lang, **answer})
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "headers.json").write_text(json.dumps(answers, ensure_ascii=False, indent=1))
    print(f"{len(answers)} answers written to {directory} ({settings.SESSION_COOKIE_NAME} masked)")


def compare(before: Path, after: Path) -> None:
    one = json.loads((before / "headers.json").read_text())
    two = json.loads((after / "headers.json").read_text())
    assert len(one) == len(two), (len(one), len(two))
    differ = 0
    for a, b in zip(one, two, strict=True):
        if a != b:
            differ += 1
            if differ <= 5:
                print(json.dumps(a, ensure_ascii=False))
                print(json.dumps(b, ensure_ascii=False))
    statuses: dict[str, int] = {}
    for a in one:
        statuses[a["status"]] = statuses.get(a["status"], 0) + 1
    print(f"{len(one)} answers compared ({statuses}), {differ} differ")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    cap = sub.add_parser("capture")
    cap.add_argument("dir")
    cap.add_argument("--accounts", type=int, default=10)
    cap.add_argument("--tokens", type=int, default=10)
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before")
    cmp_.add_argument("after")
    args = parser.parse_args()
    if args.command == "capture":
        capture(Path(args.dir), args.accounts, args.tokens)
    else:
        compare(Path(args.before), Path(args.after))


if __name__ == "__main__":
    main()
