"""The confirmation of completed home isolation: a PDF with a QR code to a public verification page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import segno
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from health_f0.core.text import mask_name
from health_f0.monitoring import rules
from health_f0.monitoring.models import Episode, EpisodeStatus


def has_certificate(episode: Episode) -> bool:
    """A completed episode carries the code of its certificate (issued by the completion)."""
    return episode.status == EpisodeStatus.COMPLETED and bool(episode.certificate_code)


def verification_url(code: str) -> str:
    return f"{settings.PORTAL_URL}/xac-minh/{code}"


@dataclass(frozen=True)
class PublicCertificate:
    """Only what a checker needs: the certificate is genuine, for whom (masked), from when to when."""

    code: str
    name_masked: str
    birth_year: int
    start_date: date  # day 1 of the isolation: the positive test (rules.isolation_start)
    end_date: date
    facility_name: str
    positive_date: date | None = None  # None: unknown, the isolation counted from the acceptance


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
        name_masked=mask_name(episode.patient.full_name),
        birth_year=episode.patient.date_of_birth.year,
        start_date=rules.isolation_start(episode),
        end_date=timezone.localtime(episode.ended_at).date(),
        facility_name=episode.facility.name,
        positive_date=episode.positive_date,
    )


def certificate_html(*, episode: Episode) -> str:
    """The certificate of a completed episode as HTML (A4, Vietnamese, QR code to the verification page).
    The isolation period runs from the positive test (QĐ 261/QĐ-BYT); the positive-test date and the day
    the station accepted the patient are both stated."""
    if not has_certificate(episode):
        raise ValueError("only a completed episode has a certificate")
    url = verification_url(episode.certificate_code)
    qr_svg = segno.make(url, error="m").svg_inline(scale=3, dark="#0b3d2e")
    return render_to_string(
        "monitoring/certificate.html",
        {
            "episode": episode,
            "patient": episode.patient,
            "facility": episode.facility,
            "qr_svg": qr_svg,
            "url": url,
            "isolation_start": rules.isolation_start(episode),
            "issued_on": timezone.localtime(episode.ended_at).date()
            if episode.ended_at
            else timezone.localdate(),
        },
    )


def certificate_pdf(*, episode: Episode) -> bytes:
    """Render the certificate of a completed episode as a PDF (see certificate_html)."""
    from weasyprint import HTML

    return HTML(string=certificate_html(episode=episode), base_url=str(settings.BASE_DIR)).write_pdf()


# --- Who gets a certificate: decided once, by EPISODE_WORKFLOW's "certificate" step -------------------
# (a completed episode with its code; staff who follow the episode, or the patient and the family). The desk,
# the portal and the API all download through certificate_download; the staff's downloads are audited.


def may_download_certificate(*, episode: Episode, actor: Any) -> bool:
    """Whether `actor` may download this episode's certificate now (the desk's button, the portal's link,
    the API's `certificate_url`)."""
    from health_f0.core.exceptions import DomainError
    from health_f0.monitoring.transitions import CERTIFICATE, EPISODE_WORKFLOW

    try:
        EPISODE_WORKFLOW.check(episode, CERTIFICATE, actor)
    except DomainError:
        return False
    return True


def certificate_download(*, episode: Episode, actor: Any) -> bytes:
    """The certificate PDF for `actor`: refused (InvalidTransition / PermissionDenied / GuardRefused
    `no_certificate`) unless EPISODE_WORKFLOW's "certificate" step is open to them. A download by staff (at the
    desk: access.CERTIFICATE_ROLES at the episode's facility) is an audit row (EXPORT); the patient's and the
    family's own downloads are not."""
    from health_f0.core.actors import STAFF
    from health_f0.core.audit import audit_log
    from health_f0.core.models import AuditLog
    from health_f0.monitoring.transitions import CERTIFICATE, EPISODE_WORKFLOW

    step = EPISODE_WORKFLOW.check(episode, CERTIFICATE, actor)
    pdf = certificate_pdf(episode=episode)
    if step.capacity == STAFF:
        audit_log(
            actor=actor,
            action=AuditLog.Action.EXPORT,
            verb="certificate_pdf",
            target=episode,
            facility=episode.facility,
            data={"certificate": episode.certificate_code},
        )
    return pdf


def certificate_for_staff(*, episode: Episode, actor: Any) -> bytes:
    """The certificate PDF for a staff member at the desk (see certificate_download)."""
    return certificate_download(episode=episode, actor=actor)
