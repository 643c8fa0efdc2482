"""What the appointment desk pages share: the slot picker, the patient picker, small formatting, and the
base class of the pages (their context, the role check, the scoped booking).

Pages read through appointments.selectors (scoped by facilities.access); every change calls an
appointments service (the workflow checks the step, the actor and the guards, writes the audit row and
queues the SMS). Nothing here writes a status.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.dataclasses import ActionDialog
from unfold.forms import BaseDialogForm

from health_f0.appointments import selectors, services
from health_f0.appointments.forms import CancelForm, DeclineForm, NewPatientForm, SlotDayForm
from health_f0.appointments.models import Appointment, Doctor, Service, Status
from health_f0.appointments.slots import LOCAL_TZ
from health_f0.core.audit import audit_list_view
from health_f0.core.exceptions import DomainError
from health_f0.core.phone import display_phone
from health_f0.desk.actions import form_error_messages
from health_f0.desk.formatting import age_years, badge, fmt_date, fmt_datetime
from health_f0.desk.site import ScopedModelAdmin, has_any_role
from health_f0.patients.models import Patient

T = TypeVar("T")
F = TypeVar("F")

PAGE_SIZE = 50
PICKER_DAYS = 7
LAPSE_SOON = timedelta(hours=24)  # a request lapsing within this is shown in red on the worklist
WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật"]

STATUS_BADGE: dict[str, str | None] = {
    Status.REQUESTED: "warning",
    Status.CONFIRMED: "info",
    Status.CHECKED_IN: "success",
    Status.COMPLETED: "success",
    Status.CANCELLED: None,
    Status.NO_SHOW: "danger",
}

DECLINE_DIALOG: ActionDialog = {
    "title": _("Từ chối lịch đặt"),
    "description": _("Chỗ được trả lại; người bệnh nhận SMS có lý do và đường dẫn để đặt lại."),
    "form_class": DeclineForm,
    "form_submit_text": _("Từ chối"),
}
# "Xác nhận" and "Khám xong" change state: a GET only opens the dialog, its form POSTs with the CSRF token.
CONFIRM_DIALOG: ActionDialog = {
    "title": _("Xác nhận lịch đặt"),
    "description": _("Chỗ được giữ cho người bệnh; người bệnh nhận SMS có giờ hẹn và mã tiếp đón."),
    "form_class": BaseDialogForm,
    "form_submit_text": _("Xác nhận"),
}
COMPLETE_DIALOG: ActionDialog = {
    "title": _("Ghi nhận khám xong"),
    "description": _("Lượt khám kết thúc và rời khỏi hàng đợi. Không hoàn tác được."),
    "form_class": BaseDialogForm,
    "form_submit_text": _("Khám xong"),
}
CANCEL_DIALOG: ActionDialog = {
    "title": _("Huỷ lịch hẹn"),
    "description": _("Cơ sở huỷ lịch hẹn: chỗ được trả lại, các tin nhắc bị huỷ, người bệnh nhận SMS."),
    "form_class": CancelForm,
    "form_submit_text": _("Huỷ lịch hẹn"),
}


# --- Small formatting helpers ---------------------------------------------------------------------


def phone_link(phone: str) -> SafeString:
    return format_html(
        '<a class="text-primary-600 whitespace-nowrap" href="tel:{}">{}</a>', phone, display_phone(phone)
    )


def status_badge(appointment: Appointment) -> SafeString:
    return badge(appointment.get_status_display(), STATUS_BADGE.get(appointment.status))


def slot_text(moment: datetime | None) -> str:
    return fmt_datetime(moment)


def day_label(day: date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day:%d/%m/%Y}"


def history_text(visits: int, no_shows: int) -> str:
    if not visits and not no_shows:
        return gettext("Lần đầu")
    parts = [gettext("%(n)d lần khám") % {"n": visits}]
    if no_shows:
        parts.append(gettext("%(n)d lần không đến") % {"n": no_shows})
    return " · ".join(parts)


def slot_days(
    service: Service,
    start: date,
    days: int,
    current: datetime | None = None,
    doctor: Doctor | None = None,
) -> list[dict[str, Any]]:
    """The slot picker: the service's slots (of `doctor`, if given) over `days` local days from `start`,
    grouped by day."""
    grouped: dict[date, list[dict[str, Any]]] = {}
    for slot in selectors.slots_free(
        service=service, start=start, end=start + timedelta(days=days - 1), for_staff=True, doctor=doctor
    ):
        local = slot.start.astimezone(LOCAL_TZ)
        grouped.setdefault(local.date(), []).append(
            {
                "value": local.isoformat(),
                "label": f"{local:%H:%M}",
                "free": slot.free,
                "full": slot.free <= 0,
                "current": current is not None and slot.start == current,
            }
        )
    return [{"label": day_label(day), "slots": slots} for day, slots in sorted(grouped.items())]


def start_day(request: HttpRequest) -> tuple[date, SlotDayForm]:
    """The slot picker's first day (?tu=dd/mm/yyyy as typed, or ISO from the 7-day links), never before
    today, and the date field to show it in. A day that cannot be read is said so and today is shown."""
    today = timezone.localdate()
    raw = request.GET.get("tu", "").strip()
    first = today
    if raw:
        parsed = SlotDayForm({"tu": raw})
        if parsed.is_valid() and parsed.cleaned_data["tu"] is not None:
            first = max(parsed.cleaned_data["tu"], today)
        else:
            form_error_messages(request, parsed)
    return first, SlotDayForm(initial={"tu": first})


def slot_day_context(request: HttpRequest, first: date, day_form: SlotDayForm) -> dict[str, Any]:
    """What _slot_day.html needs: the date field, the other query values its GET form keeps, and the links
    to the 7 days before (never before today) and after."""
    query = request.GET.copy()
    query.pop("tu", None)
    return {
        "day_form": day_form,
        "day_query": [(key, value) for key in query for value in query.getlist(key)],
        "next_url": "?" + with_query(query, tu=(first + timedelta(days=PICKER_DAYS)).strftime("%d/%m/%Y")),
        "prev_url": "?" + with_query(query, tu=(first - timedelta(days=PICKER_DAYS)).strftime("%d/%m/%Y"))
        if first > timezone.localdate()
        else "",
    }


def with_query(query: Any, **values: str) -> str:
    """The query string with these values set."""
    copy = query.copy()
    for key, value in values.items():
        copy[key] = value
    return str(copy.urlencode())


class AppointmentPages(ScopedModelAdmin):
    """The base of the appointment desk's pages (each module adds its own; records.AppointmentAdmin joins
    them under the appointment list's URLs)."""

    @staticmethod
    def _require(request: HttpRequest, roles: frozenset[str]) -> None:
        if not has_any_role(request.user, roles):
            raise PermissionDenied

    def _scoped(self, request: HttpRequest, pk: int, roles: frozenset[str]) -> Appointment:
        appointment = (
            selectors.appointments_visible(request.user, roles)
            .select_related("facility", "service__facility")
            .filter(pk=pk)
            .first()
        )
        if appointment is None:
            raise Http404
        return appointment

    # --- The patient picker (booking by phone, walk-ins, re-exams) ------------------------------------

    def _picked_patient(self, request: HttpRequest, roles: frozenset[str]) -> Patient | None:
        raw = request.POST.get("patient") or request.GET.get("patient")
        if not raw:
            return None
        try:
            pk = int(raw)
        except ValueError:
            raise Http404
        patient = selectors.patients_findable(user=request.user, roles=roles).filter(pk=pk).first()
        if patient is None:
            raise Http404
        return patient

    def _picker_context(
        self, request: HttpRequest, roles: frozenset[str], patient: Patient | None
    ) -> dict[str, Any]:
        term = request.GET.get("q", "").strip()
        query = request.GET.copy()
        query.pop("q", None)
        query.pop("patient", None)
        found = [] if patient else selectors.patient_search(user=request.user, roles=roles, term=term)
        if not patient and len(term) >= 2:
            # A search of patients is a read of patient data, audited like a desk list (term kept there only).
            audit_list_view(
                actor=request.user,
                model=Patient,
                data={"search": term, "filters": {}, "page": 1, "count": len(found), "shown": len(found)},
            )
        counts = selectors.patient_visit_counts(patient_ids=[p.pk for p in found])
        return {
            "patient": patient,
            "patient_info": self._patient_info(patient) if patient else None,
            "term": term,
            "found": [
                {
                    "patient": p,
                    "age": age_years(p.date_of_birth),
                    "dob": fmt_date(p.date_of_birth),
                    "phone": display_phone(p.phone),
                    "history": history_text(*counts[p.pk]),
                    "pick_url": "?" + with_query(query, patient=str(p.pk)),
                }
                for p in found
            ],
            "unpick_url": "?" + query.urlencode(),
        }

    def _patient_info(self, patient: Patient) -> dict[str, Any]:
        visits, no_shows = selectors.patient_visit_counts(patient_ids=[patient.pk])[patient.pk]
        return {
            "name": patient.full_name,
            "dob": fmt_date(patient.date_of_birth),
            "age": age_years(patient.date_of_birth),
            "phone": phone_link(patient.phone),
            "cccd": patient.cccd,
            "bhyt": patient.bhyt,
            "history": history_text(visits, no_shows),
        }

    def _new_person(self, form: NewPatientForm) -> services.NewPatient | None:
        """The person typed in the new-patient form (the service creates the record together with the
        booking or ticket, and the oral consent the form's switch records); None with the form's errors."""
        if not form.is_valid():
            return None
        data = form.cleaned_data
        return services.NewPatient(
            full_name=data["full_name"],
            date_of_birth=data["date_of_birth"],
            sex=data["sex"],
            phone=data["phone"],
            cccd=data.get("cccd") or "",
            bhyt=data.get("bhyt") or "",
        )

    @staticmethod
    def _refused(exc: DomainError, form: Any, patient_form: NewPatientForm | None) -> None:
        """A service's refusal next to the new patient's field it names, else at the top of the form."""
        if patient_form is not None and exc.field in patient_form.fields:
            patient_form.add_error(exc.field, exc.message)
        else:
            form.add_error(None, exc.message)

    def _patient_forms(
        self, request: HttpRequest, roles: frozenset[str], form_class: Callable[..., F]
    ) -> tuple[Patient | None, F, NewPatientForm]:
        """A page that does something for a patient (book by phone, a walk-in): the role check, the picked
        patient (None: none picked), the page's form over the services of `roles` (bound on POST), and the
        new-patient form (bound only when no patient is picked)."""
        self._require(request, roles)
        patient = self._picked_patient(request, roles)
        service_list = list(selectors.services_for(user=request.user, roles=roles))
        data = request.POST if request.method == "POST" else None
        form = form_class(data, services=service_list, initial={"service": request.GET.get("service", "")})
        return patient, form, NewPatientForm(data if patient is None else None)

    def _for_patient(
        self,
        form: Any,
        patient: Patient | None,
        patient_form: NewPatientForm,
        *,
        known: Callable[[Patient], T],
        new: Callable[[services.NewPatient], T],
    ) -> T | None:
        """The step for the picked patient (`known(patient)`), or for the person typed in the new-patient form
        (`new(person)`: the record and the step in one transaction). None when the new-patient form has errors
        or the service refused (the refusal goes on the forms, `_refused`)."""
        try:
            if patient is not None:
                return known(patient)
            person = self._new_person(patient_form)
            return new(person) if person is not None else None
        except DomainError as exc:
            self._refused(exc, form, patient_form if patient is None else None)
            return None
