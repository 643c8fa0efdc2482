"""A bounded per-process memo: the answers of a pure function kept by its key, the whole memo emptied when it
would grow past its size (issue 11's read paths keep formatted dates, numbers, markup and negotiated answers
this way). Emptying all at once, rather than evicting the least recently used entry, keeps a hit to one C
`dict.get`; the memos hold values worth microseconds, so refilling after a clear costs nothing that matters.

What may be kept: answers that depend only on the key (every input a part of it, the time zone and language
included), never one account's data under a key another account can ask for."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V]):
    """A dict for `memo.get(key)` look-ups, written only through `keep`, which bounds it to `size` entries."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def keep(self, key: K, value: V) -> V:
        """Keep `value` under `key` (emptying the memo first when it is full) and answer it."""
        if len(self) >= self.size:
            self.clear()
        self[key] = value
        return value
