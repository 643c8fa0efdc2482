"""Demo appointment services at TTYT-HD's clinic rooms, their weekly schedules, a clinician, one online
booking waiting for the desk and a 4-weekly hypertension re-exam plan for the demo patient.

Idempotent: services are upserted by (facility, code) and their weekly rows replaced; bookings and plans
are made only when the demo patient has none for that service. Run after seed_demo.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from health_f0.appointments import services as appointment_services
from health_f0.appointments.models import (
    Appointment,
    AppointmentPolicy,
    Doctor,
    ReexamPlan,
    ScheduleTemplate,
    Service,
)
from health_f0.appointments.selectors import slots_free
from health_f0.appointments.slots import LOCAL_TZ
from health_f0.facilities.models import Facility, Membership
from health_f0.notifications.models import OutboxMessage
from health_f0.patients.models import Patient

DEMO_FILE = Path(settings.BASE_DIR) / "fixtures" / "appointments_demo.json"
PASSWORD_FILE = Path(settings.BASE_DIR) / "fixtures" / "demo.json"
SERVICE_FIELDS = (
    "name",
    "short_name",
    "kind",
    "duration_minutes",
    "capacity_per_slot",
    "min_notice_hours",
    "booking_horizon_days",
    "cancel_cutoff_hours",
    "requires_confirmation",
    "booked_priority",
    "interleave_ratio",
)


def _hm(text: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    return time(hour, minute)


class Command(BaseCommand):
    help = "Load demo appointment services, schedules and bookings (idempotent; run after seed_demo)."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("load_holidays", stdout=self.stdout)
        data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
        with transaction.atomic():
            services = self._services(data)
            self._policies(data)
            self._clinicians(data)
            # In the transaction: the demo's SMS are deleted before commit, so none is ever sent.
            self._bookings(data, services)
        self.stdout.write(self.style.SUCCESS(f"Appointment demo ready: {len(services)} services."))

    def _doctors(self, data: dict[str, Any]) -> dict[str, Doctor]:
        out: dict[str, Doctor] = {}
        for row in data.get("doctors", []):
            out[row["key"]], _ = Doctor.objects.update_or_create(
                facility=Facility.objects.get(code=row["facility"]),
                full_name=row["full_name"],
                defaults={"title": row["title"], "is_active": True},
            )
        return out

    def _services(self, data: dict[str, Any]) -> dict[str, Service]:
        out: dict[str, Service] = {}
        doctors = self._doctors(data)
        for row in data["services"]:
            facility = Facility.objects.get(code=row["facility"])
            defaults = {field: row[field] for field in SERVICE_FIELDS if field in row}
            service, _ = Service.objects.update_or_create(
                facility=facility, code=row["code"], defaults=defaults
            )
            ScheduleTemplate.objects.filter(service=service).delete()
            ScheduleTemplate.objects.bulk_create(
                ScheduleTemplate(
                    service=service,
                    weekday=window[0],
                    start_time=_hm(window[1]),
                    end_time=_hm(window[2]),
                    doctor=doctors[window[3]] if len(window) > 3 else None,
                )
                for window in data["weekly"][row["schedule"]]
            )
            out[row["code"]] = service
        return out

    def _policies(self, data: dict[str, Any]) -> None:
        for row in data["policies"]:
            AppointmentPolicy.objects.update_or_create(
                facility=Facility.objects.get(code=row["facility"]),
                defaults={
                    "reminder_days_before": row["reminder_days_before"],
                    "reminder_time": _hm(row["reminder_time"]),
                },
            )

    def _clinicians(self, data: dict[str, Any]) -> None:
        user_model = get_user_model()
        password = json.loads(PASSWORD_FILE.read_text(encoding="utf-8"))["password"]
        for row in data["clinicians"]:
            user = user_model.objects.filter(username=row["username"]).first()
            if user is None:
                parts = row["name"].split()
                user = user_model.objects.create_user(
                    username=row["username"],
                    password=password,
                    first_name=parts[-1],
                    last_name=" ".join(parts[:-1]),
                )
                user.is_staff = True
                user.save(update_fields=["is_staff"])
            Membership.objects.get_or_create(
                user=user, facility=Facility.objects.get(code=row["facility"]), role=row["role"]
            )

    def _first_free(self, service: Service, days_ahead: int, at: str) -> datetime | None:
        day = timezone.localdate() + timedelta(days=days_ahead)
        wanted = datetime.combine(day, _hm(at), tzinfo=LOCAL_TZ)
        for slot in slots_free(service=service, start=day, end=day + timedelta(days=7)):
            if slot.free > 0 and slot.start >= wanted:
                return slot.start
        return None

    def _bookings(self, data: dict[str, Any], services: dict[str, Service]) -> None:
        user_model = get_user_model()
        for row in data["patient_bookings"]:
            patient = Patient.objects.filter(account__username=row["patient"]).first()
            service = services[row["service"]]
            if (
                patient is None
                or Appointment.objects.filter(patient=patient, service=service, is_reexam=False).exists()
            ):
                continue
            start = self._first_free(service, row["days_ahead"], row["time"])
            if start is None:
                continue
            appointment = appointment_services.appointment_book(
                patient=patient,
                service=service,
                slot_start=start,
                channel=row["channel"],
                actor=patient.account,
                reason=row.get("reason", ""),
            )
            OutboxMessage.objects.filter(subject_ref=f"appointment:{appointment.pk}").delete()
        for row in data["reexam_plans"]:
            patient = Patient.objects.filter(account__username=row["patient"]).first()
            service = services[row["service"]]
            if patient is None or ReexamPlan.objects.filter(patient=patient, service=service).exists():
                continue
            clinician = user_model.objects.get(username=row["clinician"])
            plan = appointment_services.reexam_plan_create(
                patient=patient,
                service=service,
                first_date=timezone.localdate() + timedelta(days=row["days_ahead"]),
                interval_weeks=row["interval_weeks"],
                actor=clinician,
                programme=row["programme"],
                clinician_name=clinician.get_full_name(),
            )
            for appointment in plan.appointments.all():
                OutboxMessage.objects.filter(subject_ref=f"appointment:{appointment.pk}").delete()
