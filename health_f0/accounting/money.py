"""Amounts as a Vietnamese receipt writes them: "1.500.000 đ" and "Một triệu năm trăm nghìn đồng"."""

from __future__ import annotations

from health_f0.core.text import vnd

__all__ = ["vnd", "vnd_words"]

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
GROUPS = ("", "nghìn", "triệu", "tỷ", "nghìn tỷ", "triệu tỷ")


def _three(number: int, *, leading: bool) -> list[str]:
    hundreds, rest = divmod(number, 100)
    tens, ones = divmod(rest, 10)
    words: list[str] = []
    if hundreds or not leading:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if ones and words:
            words.append("lẻ")
    elif tens == 1:
        words.append("mười")
    else:
        words += [DIGITS[tens], "mươi"]
    if ones == 1 and tens >= 2:
        words.append("mốt")
    elif ones == 5 and tens >= 1:
        words.append("lăm")
    elif ones:
        words.append(DIGITS[ones])
    return words


def vnd_words(amount: int) -> str:
    """1500000 -> "Một triệu năm trăm nghìn đồng"; 0 -> "Không đồng"."""
    if amount < 0:
        raise ValueError("amount must be >= 0")
    if amount == 0:
        return "Không đồng"
    groups: list[int] = []
    while amount:
        amount, group = divmod(amount, 1000)
        groups.append(group)
    if len(groups) > len(GROUPS):
        raise ValueError("amount too large")
    words: list[str] = []
    top = len(groups) - 1
    for index in range(top, -1, -1):
        group = groups[index]
        if not group:
            continue
        words += _three(group, leading=index == top)
        if GROUPS[index]:
            words.append(GROUPS[index])
    text = " ".join(words) + " đồng"
    return text[0].upper() + text[1:]
