"""What a browser downloads to open a page for the first time (empty cache), by resource type.

    VAR_DIR=... .venv/bin/python bench/first_load.py http://127.0.0.1:8123 admin demo-2026 /desk/ /desk/appointments/appointment/

Logs in to the desk with the given user (skipped when the user is "-"), then opens each path in a new
browser context (empty cache) and prints the bytes transferred (compressed, as on the wire) per resource type;
then opens the same path again in that context ("next visit": what the browser's cache leaves to fetch),
NEXT_VISIT_AFTER seconds later (default 0; past 60 s a file cached for a minute is asked for again).
Uses Debian's Chromium like the browser tests. The server must run as in production (not DEBUG, after
`manage.py collectstatic`), e.g. gunicorn as in scripts/run.sh: see docs/benchmarks.md, "Desk first load".
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict

from playwright.sync_api import sync_playwright

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def measure(page, base: str, path: str, label: str) -> None:
    sizes: dict[str, int] = defaultdict(int)
    names: list[tuple[int, str]] = []

    def on_finished(request):
        response = request.response()
        if response is None:
            return
        info = request.sizes()
        transferred = info["responseBodySize"] + info["responseHeadersSize"]
        sizes[request.resource_type] += transferred
        names.append((transferred, request.url.replace(base, "")))

    page.on("requestfinished", on_finished)
    page.goto(f"{base}{path}")
    page.wait_for_load_state("networkidle")
    page.remove_listener("requestfinished", on_finished)
    fetched = [name for size, name in names if size > 0]
    total = sum(sizes.values())
    print(
        f"{label}: {total / 1024:.1f} KB in {len(fetched)} requests ({len(names) - len(fetched)} from the cache)"
    )
    for kind, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:12s} {size / 1024:8.1f} KB")
    for size, name in sorted(names, reverse=True)[:8]:
        if size > 0:
            print(f"    {size / 1024:8.1f} KB  {name[:100]}")


def main(base: str, username: str, password: str, paths: list[str]) -> None:
    wait = float(os.environ.get("NEXT_VISIT_AFTER", "0"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        storage = None
        if username != "-":
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{base}/desk/login/")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_load_state("networkidle")
            storage = context.storage_state()
            context.close()
        for path in paths:
            context = browser.new_context(storage_state=storage)
            page = context.new_page()
            measure(page, base, path, path)
            time.sleep(wait)
            measure(page, base, path, f"{path} (next visit{f', {wait:g} s later' if wait else ''})")
            context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
