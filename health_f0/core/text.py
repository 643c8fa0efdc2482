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


# Apostrophes people type (’ ‘ ʼ ´ `) become the plain one; hyphens likewise (‐ ‑ – —).
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'"})
_HYPHENS = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2013": "-", "\u2014": "-"})
_NAME_PART = re.compile(r"([ '-])")
NAME_MIN, NAME_MAX = 2, 120


def normalize_name(name: str) -> str:
    """Collapse spaces and title-case a personal name, each part after a space, hyphen or apostrophe:
    'nguyễn  văn  a' -> 'Nguyễn Văn A', "o'neil" -> "O'Neil", 'TRẦN-LÊ' -> 'Trần-Lê'."""
    text = unicodedata.normalize("NFC", name).translate(_APOSTROPHES).translate(_HYPHENS)
    text = " ".join(text.split())
    text = re.sub(r" ?([-']) ?", r"\1", text)  # "Trần - Lê" -> "Trần-Lê"
    return "".join(part.capitalize() for part in _NAME_PART.split(text))


def clean_person_name(name: str, *, field: str = "full_name") -> str:
    """A person's name as every door takes it (registration, desk, booking, API): letters (Vietnamese
    diacritics included), spaces, hyphens and apostrophes, 2–120 characters, normalized by normalize_name.
    Digits, control and invisible/bidirectional formatting characters (which can make a name display as
    something else) and any other sign are refused with a DomainError on `field`."""
    from django.utils.translation import gettext as _

    from health_f0.core.exceptions import DomainError

    def refuse(message: str) -> DomainError:
        return DomainError(message, code=f"{field}_invalid", field=field)

    text = unicodedata.normalize("NFC", name or "")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in text):
        raise refuse(_("Họ và tên có ký tự điều khiển hoặc ký tự ẩn không hợp lệ; vui lòng gõ lại."))
    text = normalize_name(text)
    if any(ch.isdigit() for ch in text):
        raise refuse(_("Họ và tên không được chứa chữ số."))
    if any(not (ch.isalpha() or ch in " -'" or unicodedata.category(ch) == "Mn") for ch in text):
        raise refuse(_("Họ và tên chỉ gồm chữ cái, dấu cách, dấu gạch nối (-) và dấu nháy (')."))
    letters = sum(ch.isalpha() for ch in text)
    if letters < NAME_MIN or len(text) > NAME_MAX or not text[0].isalpha():
        raise refuse(_("Vui lòng nhập đầy đủ họ và tên (2–120 ký tự)."))
    return text


def name_key(name: str) -> str:
    """Accent- and case-insensitive key for matching the same person's name."""
    return re.sub(r"\s+", " ", unaccent(name).lower()).strip()


def vnd(amount: int) -> str:
    """1500000 -> "1.500.000 đ": an amount in đồng with dots between thousands, as Vietnamese writes it."""
    return f"{amount:,} đ".replace(",", ".")


def mask_name(full_name: str) -> str:
    """ "Nguyễn Văn Hùng" -> "N***** V** Hùng": enough to match an ID card, not enough to identify by itself."""
    parts = full_name.split()
    return " ".join([p[0] + "*" * (len(p) - 1) for p in parts[:-1]] + parts[-1:])


def mask_account_number(number: str) -> str:
    """A bank account or card number kept for reconciliation: its last four digits only ("••••6789")."""
    digits = "".join(ch for ch in str(number) if ch.isalnum())
    return "••••" + digits[-4:] if digits else ""
