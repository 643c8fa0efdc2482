"""In-process view of one GET of a list endpoint (issue 11): queries per request, this process's CPU per request
and, with --profile, where it goes (cProfile, cumulative). Requests go through Django's WSGI handler (no HTTP
server), each with the next patient token of the bench data (bench/generate.py), so every request reads another
patient's rows. For finding where a worker's CPU goes; a wrk run gives the figures that count.

    DATABASE_URL=... ALLOWED_HOSTS=testserver .venv/bin/python bench/list_inproc.py \
        --path '/api/v1/declarations?limit=100' --requests 300 [--profile] [--show-queries]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import OUT, measure_in_process, setup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", default="/api/v1/declarations?limit=100")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--tokens", default=str(OUT / "tokens.txt"))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--show-queries", action="store_true")
    args = parser.parse_args()
    setup()
    from django.test import Client

    tokens = [t for t in Path(args.tokens).read_text().split() if t]
    client = Client()
    sizes: list[int] = []

    def get(i: int) -> int:
        response = client.get(args.path, HTTP_AUTHORIZATION=f"Bearer {tokens[i % len(tokens)]}")
        sizes.append(len(response.content))
        return response.status_code

    measure_in_process(
        get,
        ok=200,
        requests=args.requests,
        profile=args.profile,
        show_queries=args.show_queries,
        label=f"{args.path}: ",
    )
    print(f"{sizes[-1]} bytes per response")


if __name__ == "__main__":
    main()
