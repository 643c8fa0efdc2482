"""Django-side steps of bench/faults/run.py, run as a subprocess with the fault run's environment (its own
MariaDB and Redis). Each command prints one JSON object.

    helper.py generate --patients 1000 --accounts 400 --out var/faults   # flushes the faults database
    helper.py fanout --label redis-kill --count 800     # queue one SMS per patient phone, then the sweep
    helper.py outbox --first 1 --last 800               # the fan-out's rows: id, request ids, status
    helper.py declarations                              # every declaration: public id, idempotency key
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))


def generate(args: argparse.Namespace) -> None:
    """A small province through the ORM (so new model fields take their defaults): Sở Y tế → one TTYT →
    `stations` stations on real wards of province 31, an administrator at the Sở with a phone, `patients`
    patients at home with an active episode, the first `accounts` of them with an account and an API
    token (raw tokens in <out>/tokens.txt), and the questionnaire and triage rules. Flushes the database
    first; refuses one whose name lacks "faults"."""
    from _django import setup

    setup()
    import secrets
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from health_f0.api.models import ApiToken, hash_token
    from health_f0.core.models import User
    from health_f0.facilities.models import Facility, FacilityKind, Membership, Role, StationWard
    from health_f0.monitoring.models import Episode
    from health_f0.patients.address import wards_of
    from health_f0.patients.models import Patient

    if "faults" not in settings.DATABASES["default"]["NAME"]:
        sys.exit("Refusing to flush a database whose name lacks 'faults'.")
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    call_command("load_monitoring_reference", verbosity=0)
    today = timezone.localdate()
    password = make_password("faults-2026", hasher="pbkdf2_sha256")
    tokens: list[str] = []
    with transaction.atomic():
        doh = Facility.objects.create(
            kind=FacilityKind.DEPARTMENT_OF_HEALTH, code="SYT-31", name="Sở Y tế Hải Phòng", province_code=31
        )
        doh.path = f"/{doh.pk}/"
        doh.save(update_fields=["path"])
        centre = Facility.objects.create(
            kind=FacilityKind.HEALTH_CENTRE,
            code="TTYT-F1",
            name="Trung tâm Y tế F1",
            parent=doh,
            province_code=31,
        )
        centre.path = f"{doh.path}{centre.pk}/"
        centre.save(update_fields=["path"])
        stations = []
        for code, name in wards_of(31)[: args.stations]:
            station = Facility.objects.create(
                kind=FacilityKind.STATION,
                code=f"TYT-{code}",
                name=f"Trạm Y tế {name}",
                short_name=f"TYT {name}"[:60],
                parent=centre,
                province_code=31,
                hotline="0912000000",
            )
            station.path = f"{centre.path}{station.pk}/"
            station.save(update_fields=["path"])
            StationWard.objects.create(station=station, ward_code=code, ward_name=name, province_code=31)
            stations.append((station, code, name))
        admin = User.objects.create(username="qt.syt", password=password, is_staff=True, phone="+84900000001")
        Membership.objects.create(user=admin, facility=doh, role=Role.ADMINISTRATOR)
        users = User.objects.bulk_create(
            User(username=f"faults{i:06d}", password=password, phone=f"+849{10_000_000 + i:08d}")
            for i in range(args.accounts)
        )
        patients = Patient.objects.bulk_create(
            Patient(
                full_name=f"Nguyễn Văn Thử {i}",
                date_of_birth=today - timedelta(days=365 * 30 + i),
                sex="male",
                phone=f"+849{10_000_000 + i:08d}",
                province_code=31,
                ward_code=stations[i % len(stations)][1],
                ward_name=stations[i % len(stations)][2],
                facility=stations[i % len(stations)][0],
                account=users[i] if i < len(users) else None,
                details_confirmed_at=timezone.now(),
            )
            for i in range(args.patients)
        )
        Episode.objects.bulk_create(
            Episode(
                patient=patient,
                facility=patient.facility,
                start_date=today - timedelta(days=2),
                expected_end_date=today + timedelta(days=5),
            )
            for patient in patients
        )
        expires = timezone.now() + timedelta(days=30)
        for user in users:
            raw = secrets.token_urlsafe(32)
            ApiToken.objects.create(user=user, key_hash=hash_token(raw), prefix=raw[:8], expires_at=expires)
            tokens.append(raw)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokens.txt").write_text("\n".join(tokens) + "\n")
    print(json.dumps({"tokens": str(out / "tokens.txt"), "patients": len(patients), "accounts": len(users)}))


def fanout(args: argparse.Namespace) -> None:
    """What the morning's reminder fan-out does, for `count` patients: one reminder SMS each, queued in
    the outbox in multi-row inserts, then the worker asked to sweep. Each text carries the fault's label
    and a number, so every message is distinct (and without an expiry, whatever the hour of the run)."""
    from _django import setup

    setup()
    from django.utils import timezone

    from health_f0.notifications.models import MessageKind, OutboxMessage
    from health_f0.notifications.services import queue_due_sending
    from health_f0.patients.models import Patient

    phones = list(
        Patient.objects.exclude(phone="").order_by("pk").values_list("phone", flat=True)[: args.count]
    )
    now = timezone.now()
    rows = [
        OutboxMessage(
            kind=MessageKind.REMINDER,
            to=phone,
            body=f"Nhac khai bao suc khoe hom nay truoc 10:00. Ma {args.label}-{n:05d}",
            next_attempt_at=now,
            subject_ref=f"fault:{args.label}",
        )
        for n, phone in enumerate(phones)
    ]
    created = OutboxMessage.objects.bulk_create(rows, batch_size=1000)
    ids = [m.pk for m in created] or list(
        OutboxMessage.objects.filter(subject_ref=f"fault:{args.label}").values_list("pk", flat=True)
    )
    queue_due_sending()
    print(json.dumps({"label": args.label, "count": len(ids), "first": min(ids), "last": max(ids)}))


def outbox(args: argparse.Namespace) -> None:
    from _django import setup

    setup()
    from health_f0.notifications.models import OutboxMessage

    rows = OutboxMessage.objects.filter(subject_ref=f"fault:{args.label}").values_list(
        "pk", "public_id", "attempt_id", "status", "attempts"
    )
    print(
        json.dumps(
            [
                {
                    "id": pk,
                    "public_id": str(public_id),
                    "attempt_id": attempt_id,
                    "status": status,
                    "attempts": n,
                }
                for pk, public_id, attempt_id, status, n in rows
            ]
        )
    )


def declarations(args: argparse.Namespace) -> None:
    from _django import setup

    setup()
    from health_f0.monitoring.models import Declaration

    rows = Declaration.objects.filter(idempotency_key__startswith="flt-").values_list(
        "public_id", "idempotency_key"
    )
    print(json.dumps([[str(public_id), key] for public_id, key in rows]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--patients", type=int, default=1000)
    g.add_argument("--accounts", type=int, default=400)
    g.add_argument("--stations", type=int, default=5)
    g.add_argument("--out", required=True)
    f = sub.add_parser("fanout")
    f.add_argument("--label", required=True)
    f.add_argument("--count", type=int, default=800)
    o = sub.add_parser("outbox")
    o.add_argument("--label", required=True)
    sub.add_parser("declarations")
    args = parser.parse_args()
    {"generate": generate, "fanout": fanout, "outbox": outbox, "declarations": declarations}[args.command](
        args
    )


if __name__ == "__main__":
    main()
