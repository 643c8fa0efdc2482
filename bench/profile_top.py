"""Summarise a py-spy speedscope profile (bench/out/profile-*.json): the functions with the most samples,
inclusive (on the stack) and self (at the top), as a share of all samples.

    .venv/bin/python bench/profile_top.py bench/out/profile-sync-run1.json [--top 40] [--match health_f0]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", default="", help="only frames whose file contains this")
    args = parser.parse_args()
    with open(args.profile) as f:
        data = json.load(f)
    frames = data["shared"]["frames"]
    inclusive: Counter[int] = Counter()
    own: Counter[int] = Counter()
    total = 0
    for profile in data["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            total += weight
            for index in set(stack):
                inclusive[index] += weight
            if stack:
                own[stack[-1]] += weight

    def label(index: int) -> str:
        f = frames[index]
        file = f.get("file", "").split("site-packages/")[-1].replace("/work/main/", "")
        return f"{f['name']} ({file}:{f.get('line', '')})"

    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"\n== {title} (share of {total} samples)")
        shown = 0
        for index, weight in counter.most_common():
            if args.match and args.match not in frames[index].get("file", ""):
                continue
            print(f"{100 * weight / total:5.1f}%  {label(index)}")
            shown += 1
            if shown >= args.top:
                break


if __name__ == "__main__":
    main()
