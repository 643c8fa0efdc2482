"""The confirmation of completed home isolation: a PDF with a QR code to a public verification page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import segno
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from health_f0.monitoring.models import Episode, EpisodeStatus


def verification_url(code: str) -> str:
    return f"{settings.PORTAL_URL}/xac-minh/{code}"


@dataclass(frozen=True)
class PublicCertificate:
    """Only what a checker needs: the certificate is genuine, for whom (masked), from when to when."""

    code: str
    name_masked: str
    birth_year: int
    start_date: date
    end_date: date
    facility_name: str


def _mask_name(full_name: str) -> str:
    # "Nguyễn Văn Hùng" -> "N*** V** Hùng": enough to match an ID card, not enough to identify by itself.
    parts = full_name.split()
    return " ".join([p[0] + "*" * (len(p) - 1) for p in parts[:-1]] + parts[-1:])


def certificate_lookup(*, code: str) -> PublicCertificate | None:
    """Public verification; unknown, malformed or not-completed codes all answer None."""
    code = (code or "").strip().upper()
    if not (8 <= len(code) <= 16) or not code.isalnum():
        return None
    episode = (
        Episode.objects.select_related("patient", "facility")
        .filter(certificate_code=code, status=EpisodeStatus.COMPLETED)
        .first()
    )
    if episode is None or episode.ended_at is None:
        return None
    return PublicCertificate(
        code=code,
        name_masked=_mask_name(episode.patient.full_name),
        birth_year=episode.patient.date_of_birth.year,
        start_date=episode.start_date,
        end_date=timezone.localtime(episode.ended_at).date(),
        facility_name=episode.facility.name,
    )


def certificate_pdf(*, episode: Episode) -> bytes:
    """Render the certificate of a completed episode (A4, Vietnamese, QR code to the verification page)."""
    from weasyprint import HTML

    if episode.status != EpisodeStatus.COMPLETED or not episode.certificate_code:
        raise ValueError("only a completed episode has a certificate")
    url = verification_url(episode.certificate_code)
    qr_svg = segno.make(url, error="m").svg_inline(scale=3, dark="#0b3d2e")
    html = render_to_string(
        "monitoring/certificate.html",
        {
            "episode": episode,
            "patient": episode.patient,
            "facility": episode.facility,
            "qr_svg": qr_svg,
            "url": url,
            "issued_on": timezone.localtime(episode.ended_at).date()
            if episode.ended_at
            else timezone.localdate(),
        },
    )
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
