"""Portal payment snippets: a booking's fee card (an inclusion tag) and what a visit's bill shows (for the Jinja2
partial www/_pay_visit_bill.html of the visits pages), with their "Thanh toán" button."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from health_f0.core import text
from health_f0.payments import selectors

register = template.Library()


@register.filter
def vnd(value: Any) -> str:
    """150000 -> '150.000 đ' (Vietnamese thousands separator)."""
    try:
        amount = int(value or 0)
    except (TypeError, ValueError):
        return ""
    return text.vnd(amount)


@register.inclusion_tag("www/_pay_booking_card.html")
def booking_payment(appointment: Any) -> dict[str, Any]:
    state = selectors.booking_payment_state(appointment)
    deadline = state["deadline"]
    return {
        "appointment": appointment,
        "state": state,
        "deadline": timezone.localtime(deadline) if deadline else None,
        "offered": bool(selectors.gateways_offered(appointment.facility)) if state["payable"] else False,
    }


def visit_bill(visit: Any, bill: tuple[Any, bool] | None = None) -> dict[str, Any]:
    """What www/_pay_visit_bill.html (a Jinja2 partial of the visits pages) shows of a visit's bill: the amounts
    as text, the paying payment, what is due and whether a gateway is offered. `bill`: the visit's (paying
    payment, gateway offered) when the page read them for all its visits at once (payments.selectors.visit_bills);
    read here otherwise."""
    if bill is None and visit.bill_patient:
        bill = selectors.visit_bills([visit]).get(visit.pk)
    paid, offered = bill or (None, False)
    due = int(visit.bill_patient or 0) if paid is None else 0
    return {
        "visit": visit,
        "total": vnd(visit.bill_total) if visit.bill_total is not None else None,
        "insurance": vnd(visit.bill_insurance) if visit.bill_insurance is not None else None,
        "patient": vnd(visit.bill_patient),
        "paid": paid,
        "due": due,
        "offered": offered if due else False,
    }
