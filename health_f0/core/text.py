"""Text helpers for SMS and identifiers."""

from __future__ import annotations

import re
import unicodedata

# GSM 03.38 basic character set: what fits 160 characters a segment.
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
SMS_SEGMENT = 160
# Two concatenated segments carry a 7-character header each: 2 x 153.
SMS_TWO_SEGMENTS = 306


def unaccent(text: str) -> str:
    """'Trạm Y tế phường Đồng' -> 'Tram Y te phuong Dong' (Vietnamese-aware: đ/Đ become d/D)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def sms_text(text: str) -> str:
    """Unaccented, single-spaced, GSM-7 only: what a cheap phone shows and a gateway bills as 160/segment."""
    plain = unaccent(text)
    plain = re.sub(r"[ \t]+", " ", plain).strip()
    return "".join(ch if ch in _GSM7 else "?" for ch in plain)


def sms_segments(text: str) -> int:
    if len(text) <= SMS_SEGMENT:
        return 1
    return -(-len(text) // 153)


def normalize_name(name: str) -> str:
    """Collapse spaces and title-case a Vietnamese personal name: 'nguyễn  văn  a' -> 'Nguyễn Văn A'."""
    return " ".join(part.capitalize() for part in unicodedata.normalize("NFC", name).split())


def name_key(name: str) -> str:
    """Accent- and case-insensitive key for matching the same person's name."""
    return re.sub(r"\s+", " ", unaccent(name).lower()).strip()
