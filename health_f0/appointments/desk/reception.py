"""Reception: check-in by code or by name, walk-ins, and the day's queue with "call the next number"."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from health_f0.appointments import queue_rules, selectors, services
from health_f0.appointments.desk.common import AppointmentPages, status_badge, with_query
from health_f0.appointments.desk.worklist import BUTTON, component_html
from health_f0.appointments.forms import WalkInForm
from health_f0.appointments.models import Appointment, BookedPriority, PriorityGroup
from health_f0.appointments.slots import LOCAL_TZ, local_date_of
from health_f0.appointments.transitions import may
from health_f0.core.phone import display_phone
from health_f0.desk.actions import post_only, run, safe_next
from health_f0.desk.formatting import age_years, duration_label, fmt_date, fmt_datetime
from health_f0.facilities import access
from health_f0.privacy.models import ConsentChannel

LABEL = "unfold/helpers/label.html"


def priority_groups(policy: queue_rules.QueuePolicy) -> list[tuple[str, str]]:
    """The statutory groups as reception picks them, the elderly with the facility's age."""
    return [
        (
            value,
            gettext("Người từ đủ %(age)s tuổi") % {"age": policy.elderly_age}
            if value == PriorityGroup.ELDERLY
            else str(label),
        )
        for value, label in PriorityGroup.choices
    ]


def queue_fields(a: Appointment, policy: queue_rules.QueuePolicy, user: Any, now: Any) -> dict[str, Any]:
    """A ticket's priority, recall and skip state and the steps open to `user` (the workflow decides)."""
    groups = dict(priority_groups(policy))
    suggested = (
        ""
        if a.priority_group
        else queue_rules.suggested_group(a.patient.date_of_birth, local_date_of(now), policy)
    )
    return {
        "pk": a.pk,
        "number": a.queue_number,
        "priority": a.priority_group,
        "priority_label": groups.get(a.priority_group, ""),
        "priority_note": a.priority_note,
        "emergency": a.priority_group == PriorityGroup.EMERGENCY,
        "suggested": suggested,
        "suggested_label": groups.get(suggested, ""),
        "skips": a.skip_count,
        "recalls": a.recall_count,
        "requeued": a.requeued_at is not None,
        "may_mark": may(a, "mark_priority", user, now=now),
        "may_recall": may(a, "recall", user, now=now),
        "may_skip": may(a, "skip", user, now=now),
        "last_skip": may(a, "leave", user, now=now),
        "priority_url": reverse("admin:appointments_queue_priority", args=[a.pk]),
        "recall_url": reverse("admin:appointments_queue_recall", args=[a.pk]),
        "skip_url": reverse("admin:appointments_queue_skip", args=[a.pk]),
    }


def order_label(order: queue_rules.ServiceOrder | None) -> str:
    """The service's calling order in a phrase, saying whether it follows the facility."""
    if order is None:
        return ""
    label = str(BookedPriority(order.booked_priority).label)
    if order.booked_priority == BookedPriority.INTERLEAVE:
        label = gettext("Xen kẽ: %(n)s người đặt lịch, 1 người vãng lai") % {"n": order.interleave_ratio}
    if order.inherited:
        return gettext("%(order)s (theo cấu hình của cơ sở)") % {"order": label}
    return label


class ReceptionPages(AppointmentPages):
    def checkin_view(self, request: HttpRequest) -> HttpResponse:
        """One box: a scanned or typed check-in code (with or without dashes) checks the patient in at once;
        a name, phone or CCCD lists today's bookings to pick from."""
        self._require(request, access.RECEPTION_ROLES)
        base = reverse("admin:appointments_checkin")
        if request.method == "POST":
            term = request.POST.get("q", "").strip()
            code = services.normalize_code(term)
            # The portal shows the code in two groups ("K7M2 QX9P"); typed with a space, a dash or neither, it is
            # still a code. A name that happens to look like one falls through to the search below.
            looks_like_code = len(code) == services.CODE_LENGTH and set(code) <= set(services.CODE_ALPHABET)
            if looks_like_code and selectors.reception_find(user=request.user, code=code) is not None:
                done, appointment = run(
                    request,
                    lambda: services.appointment_check_in(code=code, actor=request.user),
                    success=lambda received: (
                        gettext("Đã tiếp đón %(name)s — số thứ tự %(number)s.")
                        % {"name": received.patient.full_name, "number": received.queue_number}
                    ),
                )
                return HttpResponseRedirect(f"{base}?ve={appointment.pk}" if done else base)
            if looks_like_code and (any(ch.isdigit() for ch in code) or "-" in term):
                messages.error(
                    request,
                    gettext(
                        "Không tìm thấy lịch hẹn với mã %(code)s. Kiểm tra lại mã trên tin nhắn hoặc tìm theo "
                        "họ tên, số điện thoại."
                    )
                    % {"code": term},
                )
                return HttpResponseRedirect(base)
            return HttpResponseRedirect(f"{base}?{with_query(request.GET.copy(), q=term)}")
        term = request.GET.get("q", "").strip()
        now = timezone.now()
        results = selectors.reception_search(user=request.user, term=term, now=now) if term else []
        ticket = None
        raw_ticket = request.GET.get("ve")
        if raw_ticket and raw_ticket.isdigit():
            ticket = selectors.reception_ticket(user=request.user, pk=int(raw_ticket))
        context = {
            **self.page_context(request, gettext("Tiếp đón người bệnh")),
            # Rendered once a page, not once a row (worklist.component_html).
            "check_in_button": component_html(BUTTON, submit=1, children=gettext("Tiếp đón")),
            "term": term,
            "today": fmt_date(local_date_of(now)),
            "results": [
                {
                    "appointment": a,
                    "patient": a.patient,
                    "age": age_years(a.patient.date_of_birth),
                    "phone": display_phone(a.patient.phone),
                    "slot": f"{a.slot_start.astimezone(LOCAL_TZ):%H:%M}",
                    "status": status_badge(a),
                    "can_check_in": may(a, "check_in", request.user, now=now),
                }
                for a in results
            ],
            "searched": bool(term),
            "ticket": ticket,
            "ticket_time": fmt_datetime(ticket.checked_in_at) if ticket else "",
            "t": queue_fields(ticket, queue_rules.queue_policy(ticket.facility), request.user, now)
            if ticket
            else None,
            "priority_groups": priority_groups(queue_rules.queue_policy(ticket.facility)) if ticket else [],
            "next_url": request.get_full_path(),
            "walk_in_url": reverse("admin:appointments_walk_in"),
            "queue_url": reverse("admin:appointments_queue"),
        }
        return TemplateResponse(request, "admin/appointments/checkin.html", context)

    def walk_in_view(self, request: HttpRequest) -> HttpResponse:
        """A patient without a booking: pick or create the patient, choose the service, get a number."""
        patient, form, patient_form = self._patient_forms(request, access.RECEPTION_ROLES, WalkInForm)
        if request.method == "POST" and form.is_valid():
            ticket_for: dict[str, Any] = {
                "service": form.chosen_service(),
                "actor": request.user,
                "reason": form.cleaned_data["reason"],
            }
            ticket = self._for_patient(
                form,
                patient,
                patient_form,
                known=lambda known: services.walk_in_register(patient=known, **ticket_for),
                new=lambda person: services.walk_in_register_new_patient(
                    person=person, consent_channel=ConsentChannel.DESK, **ticket_for
                ),
            )
            if ticket is not None:
                messages.success(
                    request,
                    gettext("Đã tiếp đón %(name)s (vãng lai) — số thứ tự %(number)s.")
                    % {"name": ticket.patient.full_name, "number": ticket.queue_number},
                )
                return HttpResponseRedirect(reverse("admin:appointments_checkin") + f"?ve={ticket.pk}")
        context = {
            **self.page_context(request, gettext("Tiếp đón người bệnh vãng lai")),
            **self._picker_context(request, access.RECEPTION_ROLES, patient),
            "form": form,
            "patient_form": patient_form,
            "checkin_url": reverse("admin:appointments_checkin"),
        }
        return TemplateResponse(request, "admin/appointments/walk_in.html", context)

    def queue_view(self, request: HttpRequest) -> HttpResponse:
        self._require(request, access.QUEUE_ROLES)
        service_list = list(selectors.services_for(user=request.user, roles=access.QUEUE_ROLES))
        by_id = {str(s.pk): s for s in service_list}
        if request.GET.get("service") and request.GET["service"] not in by_id:
            raise Http404
        today = timezone.localdate()
        # By default the first service with someone waiting today, else the first one.
        busy = (
            selectors.first_service_waiting(services=service_list, day=today)
            if service_list and not request.GET.get("service")
            else None
        )
        service = by_id.get(request.GET.get("service") or str(busy)) or (
            service_list[0] if service_list else None
        )
        queue = selectors.queue_for(service=service, day=today) if service else None
        now = timezone.now()

        kind_labels = {
            True: component_html(LABEL, text=gettext("Vãng lai")),
            False: component_html(LABEL, type="info", text=gettext("Đặt lịch")),
        }

        policy = queue.policy if queue else queue_rules.DEFAULT_POLICY
        next_url = request.get_full_path()

        def ticket(a: Appointment) -> dict[str, Any]:
            return {
                **queue_fields(a, policy, request.user, now),
                "number": a.queue_number,
                "name": a.patient.full_name,
                "age": age_years(a.patient.date_of_birth),
                "walk_in": a.is_walk_in,
                "kind": kind_labels[a.is_walk_in],
                "slot": "" if a.is_walk_in else f"{a.slot_start.astimezone(LOCAL_TZ):%H:%M}",
                "checked_in": f"{a.checked_in_at.astimezone(LOCAL_TZ):%H:%M}" if a.checked_in_at else "",
                "waiting": duration_label(now - a.checked_in_at) if a.checked_in_at else "",
                "called": f"{a.called_at.astimezone(LOCAL_TZ):%H:%M}" if a.called_at else "",
                "url": self.change_url(a.pk),
            }

        display_facility = (service.facility.parent or service.facility) if service else None
        context = {
            **self.page_context(request, gettext("Hàng đợi hôm nay")),
            "services": service_list,
            "service": service,
            "today": fmt_date(today),
            "waiting": [ticket(a) for a in queue.waiting] if queue else [],
            "called": [ticket(a) for a in queue.called] if queue else [],
            "now_calling": ticket(queue.called[0]) if queue and queue.called else None,
            "may_call": bool(service)
            and access.can_act_at(request.user, service.facility if service else None, access.QUEUE_ROLES),
            "call_url": reverse("admin:appointments_call_next", args=[service.pk]) if service else "",
            "display_url": reverse("appointments:queue_display", args=[display_facility.code])
            if display_facility and display_facility.code
            else "",
            "checkin_url": reverse("admin:appointments_checkin"),
            "order_label": order_label(queue.order if queue else None),
            "priority_groups": priority_groups(policy),
            "policy": policy,
            "next_url": next_url,
        }
        return TemplateResponse(request, "admin/appointments/queue.html", context)

    def call_next_view(self, request: HttpRequest, service_id: int) -> HttpResponse:
        if refused := post_only(request):
            return refused
        service = (
            selectors.services_for(user=request.user, roles=access.QUEUE_ROLES).filter(pk=service_id).first()
        )
        if service is None:
            raise Http404
        done, ticket = run(request, lambda: services.queue_call_next(service=service, actor=request.user))
        if done and ticket is None:
            messages.warning(request, gettext("Không còn ai đang chờ."))
        elif done:
            messages.success(
                request,
                gettext("Mời số %(number)s — %(name)s.")
                % {"number": ticket.queue_number, "name": ticket.patient.full_name},
            )
        return HttpResponseRedirect(reverse("admin:appointments_queue") + f"?service={service.pk}")

    # --- Priority, recall, skip (POST, through services and the appointment workflow) ------------------

    def _queue_step(
        self, request: HttpRequest, pk: int, call: Any, success: Any, refused: str
    ) -> HttpResponse:
        if refused_method := post_only(request):
            return refused_method
        self._require(request, access.QUEUE_ROLES)
        appointment = self._scoped(request, pk, access.QUEUE_ROLES)
        if appointment.queue_number is None:
            raise Http404
        run(request, lambda: call(appointment), success=success, refused=refused)
        fallback = reverse("admin:appointments_queue") + f"?service={appointment.service_id}"
        return HttpResponseRedirect(safe_next(request, fallback))

    def priority_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Mark (or clear) a waiting ticket's statutory priority group, with a note."""
        group = request.POST.get("group", "")

        def success(ticket: Appointment) -> str:
            if not ticket.priority_group:
                return gettext("Đã bỏ ưu tiên của số %(number)s.") % {"number": ticket.queue_number}
            return gettext("Số %(number)s được ưu tiên: %(group)s.") % {
                "number": ticket.queue_number,
                "group": dict(priority_groups(queue_rules.queue_policy(ticket.facility))).get(
                    ticket.priority_group, ""
                ),
            }

        return self._queue_step(
            request,
            pk,
            lambda a: services.queue_mark_priority(
                appointment=a, group=group, note=request.POST.get("note", ""), actor=request.user
            ),
            success,
            gettext("Không đánh dấu ưu tiên được"),
        )

    def recall_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """ "Gọi lại": announce a called number again."""
        return self._queue_step(
            request,
            pk,
            lambda a: services.queue_recall(appointment=a, actor=request.user),
            lambda t: (
                gettext("Đã gọi lại số %(number)s (lần %(count)s).")
                % {"number": t.queue_number, "count": t.recall_count}
            ),
            gettext("Không gọi lại được"),
        )

    def skip_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """ "Bỏ qua": the called patient is not here; back in the queue, or absent at the last skip."""

        def success(ticket: Appointment) -> str:
            if ticket.called_at is None:
                return gettext("Đã bỏ qua số %(number)s: số này được gọi lại sau %(k)s người.") % {
                    "number": ticket.queue_number,
                    "k": queue_rules.queue_policy(ticket.facility).skip_back,
                }
            return gettext("Số %(number)s đã bị bỏ qua %(count)s lần: ghi nhận người bệnh vắng mặt.") % {
                "number": ticket.queue_number,
                "count": ticket.skip_count,
            }

        return self._queue_step(
            request,
            pk,
            lambda a: services.queue_skip(appointment=a, actor=request.user),
            success,
            gettext("Không bỏ qua được"),
        )
