"""In-process view of one POST /api/v1/declarations: queries per request and this process's CPU per request
(through Django's WSGI handler, no HTTP server), optionally with cProfile. For finding where a worker's CPU
goes; the load test (bench/declarations.sh) gives the figures that count.

    DATABASE_URL=... .venv/bin/python bench/declare_inproc.py --requests 500 [--profile]
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import OUT, measure_in_process, setup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--tokens", default=str(OUT / "tokens.txt"))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--show-queries", action="store_true")
    args = parser.parse_args()
    setup()
    from django.test import Client

    tokens = [t for t in Path(args.tokens).read_text().split() if t]
    client = Client()
    body = json.dumps(
        {
            "answers": {
                "temperature": "36.8",
                "spo2": 98,
                "breathing_rate": 17,
                "pulse": 80,
                "symptoms": ["cough"],
            }
        }
    )

    def post(i: int) -> int:
        response = client.generic(
            "POST",
            "/api/v1/declarations",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {tokens[i % len(tokens)]}",
            HTTP_IDEMPOTENCY_KEY=f"wrk-inproc-{uuid.uuid4().hex}",  # removed by loadtest.RESET_SQL
        )
        return response.status_code

    measure_in_process(
        post, ok=201, requests=args.requests, profile=args.profile, show_queries=args.show_queries
    )


if __name__ == "__main__":
    main()
