"""Where /lich-su's Python calls go (issue 11): the calls of a request counted as cProfile counts them (every
Python and C call), attributed to the outermost of the history view's parts each one runs under (the view's
readers, its rows' markup, the charts, the template), the rest being the floor (middleware, session, layout).

    <bench env> ALLOWED_HOSTS=testserver VAR_DIR=... .venv/bin/python bench/history_calls.py [--accounts 60] \\
        [--page /lich-su] [--heavy]

--heavy takes the accounts of the longest histories (bench/portal_lists.py's pick "heavy": a first page of 30
rows and a chart of 120 readings) instead of the first accounts by id (a first page holding the episode).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import setup  # noqa: E402

PARTS = {
    "patient_choice": "patient_choice",
    "current_episode": "current_episode",
    "_history_texts": "texts",
    "declaration_history": "declaration_history",
    "keyset_page": "keyset_page (the rows' statement)",
    "history_items": "history_items (the rows' markup)",
    "chart_readings": "chart_readings",
    "local_isos": "local_isos",
    "_history_charts": "_history_charts",
    "figures": "figures",
    "table_body": "table_body",
    "_page": "_page (render)",
}


def heavy_cookies(limit: int) -> list[str]:
    """Session cookies of the accounts with the longest declaration histories (portal_lists' "heavy")."""
    from django.conf import settings
    from django.test import Client
    from portal_lists import accounts

    cookies = []
    for user in accounts(Path(), limit, pick="heavy"):
        client = Client()
        client.force_login(user)
        client.get("/_floor-chrome")
        cookies.append(
            "; ".join(
                f"{name}={client.cookies[name].value}" for name in (settings.SESSION_COOKIE_NAME, "csrftoken")
            )
        )
    return cookies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=60)
    parser.add_argument("--page", default="/lich-su")
    parser.add_argument("--heavy", action="store_true")
    args = parser.parse_args()
    setup()
    from portal_floor import add_views, page_getter, session_cookies

    from health_f0.wsgi import application

    add_views()
    handler = type(application)()
    cookies = heavy_cookies(args.accounts) if args.heavy else session_cookies(args.accounts)
    get = page_getter(handler, cookies, "vi")
    for i in range(len(cookies)):
        get(args.page, i)

    counts: Counter[str] = Counter()
    stack: list[str | None] = []
    current: list[str] = ["floor"]

    def tracer(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            name = PARTS.get(frame.f_code.co_name) if current[0] == "floor" else None
            if name is not None:
                current[0] = name
            stack.append(name)
            counts[current[0]] += 1
        elif event == "c_call":
            counts[current[0]] += 1
        elif event == "return" and stack and stack.pop() is not None:
            current[0] = "floor"

    sys.setprofile(tracer)
    for i in range(len(cookies)):
        get(args.page, i)
    sys.setprofile(None)
    n = len(cookies)
    total = sum(counts.values())
    print(f"{args.page}: {total / n:.0f} calls a request ({n} accounts)")
    for name, count in counts.most_common():
        print(f"  {count / n:8.1f}  {name}")


if __name__ == "__main__":
    main()
