"""core.memo.Memo: the bounded per-process memo every read path's formatting memo is built on."""

from __future__ import annotations

from health_f0.core.memo import Memo


def test_a_memo_keeps_and_answers_what_it_keeps() -> None:
    memo: Memo[str, int] = Memo(3)
    assert memo.keep("a", 1) == 1
    assert memo.get("a") == 1 and memo.get("b") is None


def test_a_full_memo_is_emptied_before_it_grows_past_its_size() -> None:
    memo: Memo[int, int] = Memo(3)
    for n in range(3):
        memo.keep(n, n * n)
    assert len(memo) == 3
    memo.keep(3, 9)
    assert dict(memo) == {3: 9}
    for n in range(100):
        memo.keep(n, n)
        assert len(memo) <= 3
