"""Shared set-up for the bench scripts: Django on the database named by DATABASE_URL (never the default)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "out"


def setup() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("mysql://"):
        sys.exit("Set DATABASE_URL to a MariaDB database of your own (see docs/benchmarks.md).")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "health_f0.settings")
    os.environ.setdefault("VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("SMS_BACKEND", "file")
    # Bench scripts are operator tools: no web statement time limit (settings.DB_PROCESS; gunicorn keeps it).
    os.environ.setdefault("DB_PROCESS", "command")
    import django

    django.setup()
    OUT.mkdir(exist_ok=True)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * p / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)
