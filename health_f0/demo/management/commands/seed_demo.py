"""Load the demo province, facilities, staff and a few patients. Idempotent: safe to run again.

Accounts are only ever created here, never changed: a demo account an administrator later locked, demoted or
gave another password stays so (in particular the demo superuser `admin` is made once, not re-granted).
`--first-run` (what scripts/run.sh uses on every start) does nothing at all once the demo is loaded."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from health_f0.core.phone import normalize_mobile
from health_f0.facilities.models import Facility, Membership, StationWard
from health_f0.facilities.services import facility_save
from health_f0.notifications.models import OutboxMessage
from health_f0.patients import address
from health_f0.patients.bonds import phone_bond_record
from health_f0.patients.models import BondMethod
from health_f0.registration.models import Registration
from health_f0.registration.services import (
    RegistrationInput,
    _create,
    registration_accept,
    registration_validate,
)

DEMO_FILE = Path(settings.BASE_DIR) / "fixtures" / "demo.json"


class Command(BaseCommand):
    help = "Load demo facilities, staff (one per role) and patients (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--skip-appointments",
            action="store_true",
            help="Leave out the demo bookings and re-exam plan (tests that start from an empty diary).",
        )
        parser.add_argument(
            "--first-run",
            action="store_true",
            help="Load the demo only into an empty database (a start of scripts/run.sh); otherwise do nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("first_run") and get_user_model().objects.exists():
            self.stdout.write("Demo data already loaded: nothing changed.")
            return
        call_command("load_monitoring_reference", stdout=self.stdout)
        data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
        with transaction.atomic():
            facilities = self._facilities(data["facilities"])
            self._staff(data["staff"], facilities, data["password"])
            self._patients(data, facilities)
            self._morning_reports(facilities)
        call_command("load_guidance", stdout=self.stdout)
        if options.get("skip_appointments"):
            call_command("load_holidays", stdout=self.stdout)
        else:
            call_command("load_appointments_demo", stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {len(facilities)} facilities."))

    def _facilities(self, rows: list[dict[str, Any]]) -> dict[str, Facility]:
        out: dict[str, Facility] = {}
        for row in rows:
            facility = Facility.objects.filter(code=row["code"]).first() or Facility(code=row["code"])
            for key in ("kind", "name", "province_code"):
                setattr(facility, key, row[key])
            facility.short_name = row.get("short_name", "")
            facility.hotline = row.get("hotline", "")
            facility.address = row.get("address", "")
            facility.parent = out.get(row.get("parent", ""))
            facility_save(facility=facility)
            out[row["code"]] = facility
            for ward_code in row.get("wards", []):
                StationWard.objects.update_or_create(
                    ward_code=ward_code,
                    defaults={
                        "station": facility,
                        "ward_name": address.ward_name(ward_code),
                        "province_code": row["province_code"],
                    },
                )
        return out

    def _staff(self, rows: list[dict[str, Any]], facilities: dict[str, Facility], password: str) -> None:
        user_model = get_user_model()
        for row in rows:
            user = user_model.objects.filter(username=row["username"]).first()
            if user is None:
                parts = row["name"].split()
                user = user_model.objects.create_user(
                    username=row["username"],
                    password=password,
                    email=row.get("email", ""),
                    first_name=parts[-1],
                    last_name=" ".join(parts[:-1]),
                    is_staff=True,
                    is_superuser=bool(row.get("superuser")),
                )
            Membership.objects.get_or_create(
                user=user, facility=facilities[row["facility"]], role=row["role"]
            )

    def _morning_reports(self, facilities: dict[str, Facility]) -> None:
        """Each TTYT manager gets the morning report ("Báo cáo sáng", 07:00, HTML) unless they have it."""
        from health_f0.facilities.models import FacilityKind, Role
        from health_f0.reports.subscriptions.services import subscription_default_create

        for membership in Membership.objects.filter(
            role=Role.MANAGER, is_active=True, facility__kind=FacilityKind.HEALTH_CENTRE
        ).select_related("user", "facility"):
            if membership.user.email:
                subscription_default_create(
                    owner=membership.user, actor=membership.user, facility=membership.facility
                )

    def _input(self, row: dict[str, Any]) -> RegistrationInput:
        return RegistrationInput(
            full_name=row["full_name"],
            date_of_birth=date.fromisoformat(row["date_of_birth"]),
            sex=row["sex"],
            phone=row["phone"],
            province_code=31,
            ward_code=row["ward_code"],
            street=row.get("street", ""),
            test_type="rapid",
            positive_date=timezone.localdate() - timedelta(days=1),
            care="self_care",
            consent=True,
            symptoms=row.get("symptoms", []),
            spo2=row.get("spo2"),
            breathing_rate=row.get("breathing_rate"),
            conditions=row.get("conditions", []),
            vaccine_doses=row.get("vaccine_doses", 3),
        )

    def _patients(self, data: dict[str, Any], facilities: dict[str, Facility]) -> None:
        user_model = get_user_model()
        staff = user_model.objects.get(username="thanhdong.nv")
        demo = data["patient"]
        if not user_model.objects.filter(username=demo["username"]).exists():
            reg_input = registration_validate(self._input(demo))
            station = StationWard.objects.get(ward_code=demo["ward_code"]).station
            registration = _create(reg_input, channel="desk", facility=station, actor=staff)
            registration = registration_accept(registration=registration, actor=staff)
            # The demo patient's credentials are documented in the README, not texted.
            OutboxMessage.objects.filter(subject_ref=f"registration:{registration.pk}").delete()
            assert registration.patient is not None and registration.patient.account is not None
            account = registration.patient.account
            account.username = demo["username"]
            account.set_password(data["password"])
            account.must_change_password = False
            account.save()
            # The demo family's phone is proved (as if Hùng had confirmed it on the portal with an OTP), so a
            # relative registered on the portal with it acts for him and he for them (patients.bonds).
            phone_bond_record(
                patient=registration.patient,
                phone=registration.patient.phone,
                method=BondMethod.PORTAL_OTP,
                actor=account,
                evidence="demo",
            )
        for row in data["pending_registrations"]:
            phone = normalize_mobile(row["phone"])
            if Registration.objects.filter(phone=phone, full_name=row["full_name"]).exists():
                continue
            reg_input = registration_validate(self._input(row))
            station = StationWard.objects.get(ward_code=row["ward_code"]).station
            _create(reg_input, channel="web", facility=station, actor=None)
