"""The e-mail of one delivery: the report built by its family's selector as the subscription's owner, its
headline figures in the body (plain text and HTML), and the XLSX or PDF attached when that is the format.

Sent through Django's e-mail backend (settings.EMAIL_*: SMTP in production, see docs/operations.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import make_msgid
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from health_f0.core.exceptions import PermissionDenied
from health_f0.facilities.portal import site_info
from health_f0.reports.common.export import XLSX_CONTENT_TYPE
from health_f0.reports.subscriptions.models import Format, Period, ReportDelivery, ReportSubscription
from health_f0.reports.subscriptions.registry import ReportEntry, Section, entry_for

PDF_CONTENT_TYPE = "application/pdf"


class ReportUnavailable(Exception):
    """The owner may not see this report for this facility (any more): nothing is sent."""


@dataclass
class Rendered:
    entry: ReportEntry
    report: Any
    sections: list[Section]
    context: dict[str, Any]


def period_label(period: str, date_from: date, date_to: date) -> str:
    if period == Period.DAILY or date_from == date_to:
        return _("ngày %(day)s") % {"day": f"{date_from:%d/%m/%Y}"}
    if period == Period.MONTHLY:
        return _("tháng %(month)s") % {"month": f"{date_from:%m/%Y}"}
    return _("tuần %(a)s – %(b)s") % {"a": f"{date_from:%d/%m/%Y}", "b": f"{date_to:%d/%m/%Y}"}


def _page_link(entry: ReportEntry, subscription: ReportSubscription, date_from: date, date_to: date) -> str:
    base = settings.REPORT_EMAIL_SITE_URL
    if not (base and entry.page):
        return ""
    query: dict[str, str] = {
        "from": f"{date_from:%d/%m/%Y}",
        "to": f"{date_to:%d/%m/%Y}",
        "facility": str(subscription.facility_id),
    }
    return f"{base}{reverse(entry.page)}?{urlencode(query)}"


def render(*, subscription: ReportSubscription, date_from: date, date_to: date) -> Rendered:
    """Build the report as the owner and the context of its e-mail and PDF. Raises ReportUnavailable when the
    family's selector refuses the owner or the facility."""
    entry = entry_for(subscription.report)
    try:
        report = entry.build(
            user=subscription.owner,
            date_from=date_from,
            date_to=date_to,
            facility_id=subscription.facility_id,
        )
    except (PermissionDenied, LookupError):
        raise ReportUnavailable(
            _("%(user)s không còn quyền xem %(report)s của %(facility)s.")
            % {
                "user": subscription.owner.get_username(),
                "report": entry.label,
                "facility": subscription.facility.name,
            }
        ) from None
    sections = entry.summarize(report)
    context = {
        "subscription": subscription,
        "title": str(entry.label),
        "report_title": str(entry.label),
        "facility": subscription.facility,
        "period_label": period_label(subscription.period, date_from, date_to),
        "date_from": date_from,
        "date_to": date_to,
        "sections": sections,
        "full": subscription.format == Format.HTML,
        "attachment": subscription.format in (Format.XLSX, Format.PDF),
        "page_link": _page_link(entry, subscription, date_from, date_to),
        "sender": site_info().title,
    }
    return Rendered(entry=entry, report=report, sections=sections, context=context)


def pdf_bytes(rendered: Rendered) -> bytes:
    from weasyprint import HTML

    html = render_to_string("subscriptions/report_pdf.html", rendered.context)
    return bytes(HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf())


def xlsx_bytes(rendered: Rendered) -> bytes:
    if rendered.entry.xlsx is not None:
        return rendered.entry.xlsx(rendered.report)
    from health_f0.reports.subscriptions.families import sections_xlsx

    return sections_xlsx(rendered.sections)


def compose(
    *, subscription: ReportSubscription, delivery: ReportDelivery, recipients: list[str]
) -> EmailMultiAlternatives:
    """The message of `delivery` to `recipients` (not sent)."""
    rendered = render(subscription=subscription, date_from=delivery.period_start, date_to=delivery.period_end)
    context = {**rendered.context, "delivery": delivery}
    subject = _("%(title)s — %(facility)s — %(period)s") % {
        "title": context["title"],
        "facility": subscription.facility.name,
        "period": context["period_label"],
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("subscriptions/email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"Message-ID": make_msgid(domain=settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> "))},
    )
    message.attach_alternative(render_to_string("subscriptions/email.html", context), "text/html")
    if subscription.format == Format.XLSX:
        filename = rendered.entry.filename(delivery.period_start, delivery.period_end)
        message.attach(filename, xlsx_bytes(rendered), XLSX_CONTENT_TYPE)
    elif subscription.format == Format.PDF:
        filename = rendered.entry.filename(delivery.period_start, delivery.period_end).removesuffix(".xlsx")
        message.attach(f"{filename}.pdf", pdf_bytes(rendered), PDF_CONTENT_TYPE)
    return message


def preview_context(*, subscription: ReportSubscription, date_from: date, date_to: date) -> dict[str, Any]:
    """The context of the e-mail of this period (the desk's preview renders its body with it)."""
    return render(subscription=subscription, date_from=date_from, date_to=date_to).context
