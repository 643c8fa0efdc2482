"""In-process view of one POST /api/v1/declarations: queries per request and this process's CPU per request
(through Django's WSGI handler, no HTTP server), optionally with cProfile. For finding where a worker's CPU
goes; the load test (bench/declarations.sh) gives the figures that count.

    DATABASE_URL=... .venv/bin/python bench/declare_inproc.py --requests 500 [--profile]
    ... bench/declare_inproc.py --calls 200 [--one-token]   # Python + C calls per request (deterministic)

--calls N counts the function calls of N more requests (sys.setprofile): unlike CPU time it does not move with
the load of a shared machine, so it is the figure to compare before/after when the machine is busy.
--one-token sends every request with the first token (one patient looping: 429 past the daily cap).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import OUT, measure_in_process, post_declaration, setup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--tokens", default=str(OUT / "tokens.txt"))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--show-queries", action="store_true")
    parser.add_argument("--calls", type=int, default=0, help="also count calls per request over N requests")
    parser.add_argument("--one-token", action="store_true")
    args = parser.parse_args()
    setup()
    from django.test import Client

    tokens = [t for t in Path(args.tokens).read_text().split() if t]
    if args.one_token:
        tokens = tokens[:1]
    client = Client()

    def post(i: int) -> int:
        return post_declaration(client, tokens[i % len(tokens)], "wrk-inproc")

    ok = 201
    if args.one_token:
        # Fill the patient's day first: every measured request is then a refusal (429). With the cap lifted
        # (DECLARATIONS_PER_DAY=100000) the 150 declarations fill the capped 120-row history instead.
        for i in range(150):
            if post(i) == 429:
                ok = 429
                break
    measure_in_process(
        post,
        ok=ok,
        requests=args.requests,
        profile=args.profile,
        show_queries=args.show_queries,
    )
    if args.calls:
        count_calls(post, args.calls)


def count_calls(post: Any, requests: int) -> None:
    """Function calls (Python and C) per request, the test client's own included."""
    calls = 0

    def tally(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    statuses: dict[int, int] = {}
    sys.setprofile(tally)
    try:
        for i in range(requests):
            status = post(5000 + i)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        sys.setprofile(None)
    print(f"{requests} requests {statuses}: {calls / requests:.0f} function calls per request")


if __name__ == "__main__":
    main()
