"""The rest of the read-benchmark data set (issue 11), written by `bench/generate.py --full` after the home-care
data: every patient registered (an accepted Registration) plus a live registration queue, appointment services
at every TTYT with ~1.5 bookings per patient over the past 60 and next 14 days (SlotCounter rows from the
bookings, today's reception queue), HIS links for 60% of the patients with their visits and lab results, open
HIS link requests, five "heavy" patients with an extreme history, and API tokens for the staff roles.

Rows go in as multi-row INSERTs (`ModelInserter`: the model's own columns, defaults filled from the model, so
a new column with a default needs no change here). Check the result with

    DATABASE_URL=... ALLOWED_HOSTS=testserver .venv/bin/python bench/_generate_full.py --check
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import secrets
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import OUT  # noqa: E402

HEAVY_PATIENTS = 5
PENDING_SHARE = 0.03  # of the patients: the live registration queue
HIS_LINKED_SHARE = 0.6
BOOKINGS_PER_PATIENT = 1.5
PAST_DAYS, FUTURE_DAYS = 60, 14
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # bench/appointments/generate.py's check-in codes
LINK_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # appointments.models.LINK_CODE_ALPHABET
SPECIALITIES = [
    ("noi", "Khám Nội", 6),
    ("nhi", "Khám Nhi", 4),
    ("san", "Khám Sản", 3),
    ("tmh", "Khám Tai Mũi Họng", 3),
    ("mat", "Khám Mắt", 3),
    ("rhm", "Khám Răng Hàm Mặt", 2),
    ("dalieu", "Khám Da liễu", 2),
    ("ncd", "Khám bệnh mạn tính (THA, ĐTĐ)", 8),
    ("noi2", "Khám Nội 2", 6),
    ("yhct", "Khám Y học cổ truyền", 2),
]
FULL_WEEK = [(d, time(7, 0), time(11, 30)) for d in range(7)] + [
    (d, time(13, 30), time(16, 30)) for d in range(7)
]
LAB_TESTS = [
    ("GLU", "Glucose máu", "mmol/L", 3.9, 6.4, 3.0, 12.0),
    ("CRE", "Creatinin", "µmol/L", 62, 106, 40, 180),
    ("HBA1C", "HbA1c", "%", 4.0, 6.4, 4.0, 11.0),
    ("ALT", "ALT (GPT)", "U/L", 0, 40, 8, 120),
    ("AST", "AST (GOT)", "U/L", 0, 37, 8, 110),
    ("CHOL", "Cholesterol toàn phần", "mmol/L", 3.9, 5.2, 3.0, 8.0),
    ("TG", "Triglycerid", "mmol/L", 0.46, 1.88, 0.4, 5.0),
    ("URE", "Urê máu", "mmol/L", 2.5, 7.5, 2.0, 14.0),
    ("WBC", "Số lượng bạch cầu", "G/L", 4.0, 10.0, 3.0, 16.0),
    ("HGB", "Huyết sắc tố", "g/L", 120, 160, 90, 175),
    ("PLT", "Số lượng tiểu cầu", "G/L", 150, 400, 90, 480),
    ("CRP", "CRP", "mg/L", 0, 5, 0.5, 60),
]
DIAGNOSES = [
    ("I10", "Tăng huyết áp vô căn"),
    ("E11", "Đái tháo đường type 2"),
    ("J06.9", "Nhiễm trùng hô hấp trên cấp"),
    ("J18.9", "Viêm phổi"),
    ("U07.1", "COVID-19"),
    ("K29.7", "Viêm dạ dày"),
    ("M54.5", "Đau thắt lưng"),
    ("E78.5", "Rối loạn lipid máu"),
]
DEPARTMENTS = [
    ("K01", "Khoa Khám bệnh"),
    ("K02", "Khoa Nội"),
    ("K03", "Khoa Nhi"),
    ("K19", "Khoa Xét nghiệm"),
]


def fmt(dt: datetime) -> str:
    """An aware datetime as the UTC DATETIME literal MariaDB stores (isoformat: faster than strftime)."""
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


def code_of(n: int, alphabet: str = CODE_ALPHABET, length: int = 8) -> str:
    """A unique code for number n (base len(alphabet)): never drawn at random, so never a duplicate key."""
    out = []
    for _ in range(length):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return "".join(reversed(out))


_LOADER: Any = None


def _loader() -> Any:
    """A second MySQLdb connection that may LOAD DATA LOCAL INFILE (Django's has no local_infile), with the
    same session settings as generate.py's bulk inserts."""
    global _LOADER
    if _LOADER is None:
        import MySQLdb
        from django.conf import settings

        db = settings.DATABASES["default"]
        _LOADER = MySQLdb.connect(
            host=db["HOST"] or "127.0.0.1",
            port=int(db["PORT"] or 3306),
            user=db["USER"],
            passwd=db["PASSWORD"],
            db=db["NAME"],
            charset="utf8mb4",
            local_infile=1,
            autocommit=True,
        )
        _LOADER.cursor().execute("SET SESSION foreign_key_checks=0, unique_checks=0")
    return _LOADER


def _tsv(value: Any) -> str:
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value:
            return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        return value
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class ModelInserter:
    """Bulk load of one model's concrete columns: rows are written as a tab-separated file and loaded with
    LOAD DATA LOCAL INFILE (several times faster than multi-row INSERTs: no per-value escaping in Python, the
    server's bulk path). `add(**values)` takes attnames; JSON values as Python objects, datetimes as fmt()
    strings; a missing value is the model field's default (auto_now: `now`). A load that warns (a duplicate
    key, a bad value: LOAD DATA LOCAL skips them) stops the run."""

    def __init__(self, cursor: Any, model: Any, *, now: str, batch: int = 50_000) -> None:
        from django.db import connection, models

        self.batch, self.count = batch, 0
        self.rows: list[str] = []
        self.table = model._meta.db_table
        # Generated columns (Registration.queue_rank, .decided_sort) are computed by MariaDB, never loaded.
        self.fields = [f for f in model._meta.concrete_fields if not f.generated]
        self.json = {f.attname for f in self.fields if isinstance(f, models.JSONField)}
        # Per column: (attname, is JSON, what a missing value is, as TSV text).
        self.plan: list[tuple[str, bool, Callable[[], str]]] = []

        def constant(text: str) -> Callable[[], str]:
            return lambda: text

        def computed(f: Any) -> Callable[[], str]:
            return lambda: _tsv(f.get_db_prep_save(f.get_default(), connection))

        def new_uuid() -> str:
            return str(uuid.uuid4())

        for f in self.fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                fill = constant(now)
            elif f.primary_key:
                fill = constant("\\N")
            elif f.has_default() and f.default is uuid.uuid4:
                fill = new_uuid
            elif f.has_default() and callable(f.default):
                fill = computed(f)
            else:
                fill = constant(_tsv(f.get_db_prep_save(f.get_default(), connection)))
            self.plan.append((f.attname, f.attname in self.json, fill))
        self.names = frozenset(name for name, _, _ in self.plan)
        self.columns = ", ".join(f"`{f.column}`" for f in self.fields)

    def add(self, **values: Any) -> None:
        if not values.keys() <= self.names:
            raise TypeError(f"unknown columns {sorted(values.keys() - self.names)} for {self.table}")
        row = []
        for name, is_json, fill in self.plan:
            if name in values:
                value = values[name]
                row.append(_tsv(json.dumps(value, ensure_ascii=False) if is_json else value))
            else:
                row.append(fill())
        self.rows.append("\t".join(row))
        if len(self.rows) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        import tempfile

        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".tsv", delete=True) as f:
            f.write("\n".join(self.rows) + "\n")
            f.flush()
            conn = _loader()
            cur = conn.cursor()
            cur.execute(
                f"LOAD DATA LOCAL INFILE '{f.name}' INTO TABLE `{self.table}` CHARACTER SET utf8mb4 "
                f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({self.columns})"
            )
            if conn.warning_count():
                cur.execute("SHOW WARNINGS LIMIT 5")
                raise RuntimeError(f"loading {self.table}: {cur.fetchall()}")
        self.count += len(self.rows)
        self.rows = []


@dataclass
class Person:
    """One generated patient as generate.py made it (what its registration repeats)."""

    patient_id: int
    episode_id: int
    registration_id: int
    account_id: int | None
    station: int  # index into Context.stations
    name: str
    dob: date
    male: bool
    phone: str
    ward_code: int
    ward_name: str
    street: str
    start: date


@dataclass
class Context:
    cursor: Any
    rng: random.Random
    today: date
    now: datetime
    created: str
    password_hash: str
    doh: Any
    centres: list[Any]
    stations: list[Any]
    station_wards: list[list[tuple[int, str]]]
    staff: list[tuple[Any, Any, str]]  # (user, facility, role) from generate.py
    people: list[Person]
    accounts: int  # the first `accounts` people have an API token
    tokens: list[str]
    questionnaire_id: int
    vitals: Callable[..., Any]
    triage: Callable[..., Any]
    step: Callable[[str], None]
    out: Path
    counts: dict[str, int] = field(default_factory=dict)
    # Filled as we go.
    station_sizes: list[int] = field(default_factory=list)
    largest_station: int = 0
    largest_ttyt: int = 0
    desk_users: dict[tuple[int, str], int] = field(default_factory=dict)  # (facility id, role) -> user id
    heavy: list[Person] = field(default_factory=list)
    heavy_tokens: list[str] = field(default_factory=list)
    booked_patients: set[int] = field(default_factory=set)
    linked_patients: set[int] = field(default_factory=set)


def ttyt_of(ctx: Context, station_index: int) -> int:
    """Index into ctx.centres of a station's TTYT (generate.py assigns stations round-robin)."""
    parent_id = ctx.stations[station_index].parent_id
    return next(i for i, c in enumerate(ctx.centres) if c.pk == parent_id)


def build(ctx: Context) -> None:
    ctx.station_sizes = [0] * len(ctx.stations)
    for p in ctx.people:
        ctx.station_sizes[p.station] += 1
    ctx.largest_station = max(range(len(ctx.stations)), key=lambda i: ctx.station_sizes[i])
    ttyt_sizes = [0] * len(ctx.centres)
    for i, n in enumerate(ctx.station_sizes):
        ttyt_sizes[ttyt_of(ctx, i)] += n
    ctx.largest_ttyt = max(range(len(ctx.centres)), key=lambda i: ttyt_sizes[i])
    desk_staff(ctx)
    heavy_patients(ctx)
    registrations(ctx)
    appointments(ctx)
    his(ctx)
    open_alerts(ctx)
    staff_tokens(ctx)
    write_outputs(ctx)


# --- Staff at the TTYT desks -----------------------------------------------------------------------------
DESK_ROLES = [("datlich", "booking_desk"), ("tiepdon", "reception"), ("lienket", "his_linker")]


def desk_staff(ctx: Context) -> None:
    from health_f0.core.models import User
    from health_f0.facilities.models import Membership

    made = []
    for c in ctx.centres:
        for prefix, role in DESK_ROLES:
            made.append(
                (
                    User(username=f"{prefix}.{c.code.lower()}", password=ctx.password_hash, is_staff=True),
                    c,
                    role,
                )
            )
    User.objects.bulk_create([u for u, _, _ in made])
    Membership.objects.bulk_create(Membership(user=u, facility=f, role=r) for u, f, r in made)
    ctx.staff.extend(made)
    for u, f, r in ctx.staff:
        ctx.desk_users.setdefault((f.pk, r), u.pk)
    ctx.step(f"{len(made)} TTYT desk staff (booking desk, reception, HIS linker)")


# --- Heavy patients --------------------------------------------------------------------------------------
def heavy_patients(ctx: Context) -> None:
    """Five patients at the largest station with an extreme home-care history: a completed 285-day episode
    (two declarations a day) and an active one (two a day for 15 days), about 600 declarations each."""
    from health_f0.api.models import hash_token
    from health_f0.core.models import User
    from health_f0.monitoring.models import Alert, Declaration, Episode
    from health_f0.patients.models import Patient

    cur, rng = ctx.cursor, ctx.rng
    st = ctx.largest_station
    station = ctx.stations[st]
    ward_code, ward_name = ctx.station_wards[st][0]
    pid0 = _next_id(cur, "patients_patient")
    uid0 = _next_id(cur, "core_user")
    eid0 = _next_id(cur, "monitoring_episode")
    did = _next_id(cur, "monitoring_declaration")
    rid0 = ctx.people[-1].registration_id + 1
    users = ModelInserter(cur, User, now=ctx.created)
    patients = ModelInserter(cur, Patient, now=ctx.created)
    episodes = ModelInserter(cur, Episode, now=ctx.created)
    decls = ModelInserter(cur, Declaration, now=ctx.created)
    alerts = ModelInserter(cur, Alert, now=ctx.created)
    nurse = ctx.desk_users[(station.pk, "station_staff")]
    expires = fmt(ctx.now + timedelta(days=60))
    for k in range(HEAVY_PATIENTS):
        pid, uid = pid0 + k, uid0 + k
        person = Person(
            patient_id=pid,
            episode_id=eid0 + 2 * k + 1,
            registration_id=rid0 + k,
            account_id=uid,
            station=st,
            name=f"Nguyễn Văn Nặng {k + 1}",
            dob=date(1950 + k, 3, 1 + k),
            male=True,
            phone=f"+84970{k:06d}",
            ward_code=ward_code,
            ward_name=ward_name,
            street=f"Số {k + 1} Lạch Tray",
            start=ctx.today - timedelta(days=15),
        )
        ctx.heavy.append(person)
        users.add(
            id=uid,
            password=ctx.password_hash,
            username=f"nang{k:02d}",
            phone=person.phone,
            date_joined=ctx.created,
        )
        raw = secrets.token_urlsafe(32)
        cur.execute(
            "INSERT INTO api_apitoken (key_hash, prefix, created_at, expires_at, user_id) VALUES (%s,%s,%s,%s,%s)",
            (hash_token(raw), raw[:8], ctx.created, expires, uid),
        )
        ctx.heavy_tokens.append(raw)
        patients.add(
            id=pid,
            full_name=person.name,
            date_of_birth=person.dob,
            sex="male",
            phone=person.phone,
            province_code=31,
            ward_code=ward_code,
            ward_name=ward_name,
            street=person.street,
            facility_id=station.pk,
            account_id=uid,
            details_confirmed_at=ctx.created,
        )
        past_start = ctx.today - timedelta(days=320)
        for eid, first, days, status in (
            (eid0 + 2 * k, past_start, 285, "completed"),
            (person.episode_id, person.start, 15, "active"),
        ):
            last_level = "none"
            for d in range(days):
                day = first + timedelta(days=d)
                for hour in (7, 19):
                    at = datetime(
                        day.year, day.month, day.day, hour, rng.randint(0, 59), tzinfo=UTC
                    ) - timedelta(hours=7)
                    temp, spo2, rr, pulse, symptoms = ctx.vitals(rng, 98, False)
                    level, reasons = ctx.triage(temp, spo2, rr, pulse, symptoms, False)
                    answers = {
                        "temperature": str(temp),
                        "spo2": str(spo2),
                        "breathing_rate": str(rr),
                        "pulse": str(pulse),
                        "symptoms": symptoms,
                    }
                    canonical = json.dumps(answers, sort_keys=True, separators=(",", ":"))
                    decls.add(
                        id=did,
                        submitted_at=fmt(at),
                        local_date=day,
                        late=hour >= 10,
                        answers=answers,
                        temperature=temp,
                        spo2=spo2,
                        breathing_rate=rr,
                        pulse=pulse,
                        alert_level=level,
                        reasons=reasons,
                        idempotency_key=uuid.uuid4().hex,
                        request_hash=hashlib.sha256(canonical.encode()).hexdigest(),
                        patient_id=pid,
                        submitted_by_id=uid,
                        episode_id=eid,
                        questionnaire_id=ctx.questionnaire_id,
                    )
                    if level != "none":
                        alerts.add(
                            level=level,
                            reasons=reasons,
                            created_at=fmt(at),
                            acknowledged_at=fmt(at + timedelta(minutes=30)),
                            outcome="stable",
                            acknowledged_by_id=nurse,
                            facility_id=station.pk,
                            declaration_id=did,
                            episode_id=eid,
                        )
                    last_level = level
                    did += 1
            end = first + timedelta(days=days)
            episodes.add(
                id=eid,
                created_at=fmt(datetime.combine(first, time(1), tzinfo=UTC)),
                patient_id=pid,
                facility_id=station.pk,
                registration_id=person.registration_id if status == "active" else None,
                status=status,
                start_date=first,
                positive_date=first - timedelta(days=1),
                expected_end_date=first + timedelta(days=7),
                last_declared_on=end - timedelta(days=1),
                declarations_on_last_day=2,
                last_alert_level=last_level,
                ended_at=fmt(datetime.combine(end, time(3), tzinfo=UTC)) if status == "completed" else None,
                ended_by_id=nurse if status == "completed" else None,
                end_reason="recovered" if status == "completed" else "",
            )
    for ins in (users, patients, episodes, decls, alerts):
        ins.flush()
    ctx.counts["heavy_declarations"] = decls.count
    ctx.step(f"{HEAVY_PATIENTS} heavy patients: {decls.count} declarations, {alerts.count} alerts")


def _next_id(cursor: Any, table: str) -> int:
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM `{table}`")
    return int(cursor.fetchone()[0])


# --- Registrations ---------------------------------------------------------------------------------------
def _open_key(phone: str, full_name: str, dob: date) -> str:
    from health_f0.core.text import name_key

    return hashlib.sha256(f"{phone}|{name_key(full_name)}|{dob.isoformat()}".encode()).hexdigest()


def registrations(ctx: Context) -> None:
    """An accepted registration behind every patient (the episode points at it), then the live queue:
    PENDING_SHARE of the patients waiting at the stations (heavier at the largest), a few at the Sở (awaiting a
    transfer to a station), and some rejected ones."""
    from django.conf import settings

    from health_f0.registration.models import Registration

    cur, rng = ctx.cursor, ctx.rng
    regs = ModelInserter(cur, Registration, now=ctx.created)
    policy = settings.PRIVACY_POLICY_VERSION
    reviews = [["Từ 65 tuổi trở lên"], ["Có bệnh nền: Tăng huyết áp"], ["Chưa tiêm đủ vắc xin"]]

    def screening(eligibility: str) -> dict[str, Any]:
        return {
            "test_type": rng.choice(("rt_pcr", "rapid", "rapid")),
            "symptoms": rng.sample(
                ["fever", "cough", "sore_throat", "fatigue", "headache"], rng.randint(0, 2)
            ),
            "spo2": rng.choice((97, 98, 98, 99)),
            "breathing_rate": rng.randint(15, 19),
            "conditions": ["hypertension"] if eligibility == "review" else [],
            "care": rng.choice(("self_care", "self_care", "caregiver")),
            "vaccine_doses": rng.randint(0, 3),
            "consent_policy_version": policy,
            "eligibility": eligibility,
            "eligibility_reasons": rng.choice(reviews) if eligibility != "eligible" else [],
        }

    for p in [*ctx.people, *ctx.heavy]:
        station = ctx.stations[p.station]
        at = datetime.combine(p.start - timedelta(days=1), time(2, rng.randint(0, 59)), tzinfo=UTC)
        channel = rng.choices(("web", "app", "desk"), weights=(55, 25, 20))[0]
        eligibility = "review" if rng.random() < 0.08 else "eligible"
        regs.add(
            id=p.registration_id,
            created_at=fmt(at),
            updated_at=fmt(at + timedelta(hours=2)),
            status="accepted",
            channel=channel,
            facility_id=station.pk,
            full_name=p.name,
            date_of_birth=p.dob,
            sex="male" if p.male else "female",
            phone=p.phone,
            province_code=31,
            ward_code=p.ward_code,
            ward_name=p.ward_name,
            street=p.street,
            positive_date=p.start - timedelta(days=1),
            consent_at=fmt(at),
            decided_at=fmt(at + timedelta(hours=2)),
            decided_by_id=ctx.desk_users[(station.pk, "station_staff")],
            patient_id=p.patient_id,
            open_key=_open_key(p.phone, p.name, p.dob),
            **screening(eligibility),
        )
    accepted = regs.count + len(regs.rows)
    # The live queue: station weights squared, so the largest station's queue stands out.
    weights = [n * n for n in ctx.station_sizes]
    cum, acc = [], 0.0
    for w in weights:
        acc += w / sum(weights)
        cum.append(acc)
    pending = int(len(ctx.people) * PENDING_SHARE)
    at_doh = max(20, pending // 50)
    rejected = len(ctx.people) // 100
    per_station: dict[str, int] = defaultdict(int)
    for n in range(pending + at_doh + rejected):
        st = min(bisect.bisect_left(cum, rng.random()), len(ctx.stations) - 1)
        facility = ctx.doh if pending <= n < pending + at_doh else ctx.stations[st]
        status = "rejected" if n >= pending + at_doh else "submitted"
        ward_code, ward_name = rng.choice(ctx.station_wards[st])
        male = rng.random() < 0.5
        name = " ".join(
            (
                rng.choice(("Nguyễn", "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đỗ", "Bùi")),
                rng.choice(("Văn", "Đức", "Minh", "Hữu"))
                if male
                else rng.choice(("Thị", "Thu", "Ngọc", "Thanh")),
                rng.choice(("Hùng", "Nam", "Tuấn", "Long", "Sơn"))
                if male
                else rng.choice(("Lan", "Hoa", "Mai", "Linh")),
            )
        )
        dob = ctx.today - timedelta(days=rng.randint(18 * 365, 85 * 365))
        phone = f"+8498{n:07d}"
        hours_ago = rng.uniform(0.2, 30) if status == "submitted" else rng.uniform(24, 300)
        at = ctx.now - timedelta(hours=hours_ago)
        eligibility = rng.choices(("eligible", "review", "hospital"), weights=(70, 25, 5))[0]
        if status == "submitted":
            per_station[facility.code] += 1
        regs.add(
            created_at=fmt(at),
            updated_at=fmt(at),
            status=status,
            channel=rng.choices(("web", "app", "desk"), weights=(60, 30, 10))[0],
            facility_id=facility.pk,
            full_name=name,
            date_of_birth=dob,
            sex="male" if male else "female",
            phone=phone,
            province_code=31,
            ward_code=ward_code,
            ward_name=ward_name,
            street=f"Số {rng.randint(1, 300)} Trần Phú",
            positive_date=(at - timedelta(days=1)).date(),
            consent_at=fmt(at),
            decided_at=fmt(at + timedelta(hours=3)) if status == "rejected" else None,
            decided_by_id=ctx.desk_users.get((facility.pk, "station_staff"))
            if status == "rejected"
            else None,
            reject_reason="Không thuộc địa bàn quản lý của trạm" if status == "rejected" else "",
            open_key=_open_key(phone, name, dob) if status == "submitted" else None,
            **screening(eligibility),
        )
    regs.flush()
    ctx.counts.update(
        registrations_accepted=accepted,
        registrations_pending=pending,
        registrations_at_doh=at_doh,
        registrations_rejected=rejected,
        registrations_pending_largest_station=per_station[ctx.stations[ctx.largest_station].code],
    )
    ctx.step(
        f"{regs.count} registrations: {accepted} accepted, {pending} waiting at stations "
        f"({per_station[ctx.stations[ctx.largest_station].code]} at the largest), {at_doh} at the Sở, "
        f"{rejected} rejected"
    )


# --- Appointments ----------------------------------------------------------------------------------------
def appointments(ctx: Context) -> None:
    """Per TTYT a Khoa Khám bệnh with clinic rooms and services on the demo "full" week (more at the largest
    TTYT); bookings on real slots, never above capacity, SlotCounter = the slot's non-cancelled bookings;
    today's bookings checked in with queue numbers (QueueCounter = the day's last number)."""
    from health_f0.appointments.models import (
        Appointment,
        Holiday,
        QueueCounter,
        ScheduleTemplate,
        Service,
        SlotCounter,
    )
    from health_f0.appointments.slots import Window, compute_slots, local_date_of
    from health_f0.facilities.models import Facility, FacilityKind

    cur, rng, now, today = ctx.cursor, ctx.rng, ctx.now, ctx.today
    first, last = today - timedelta(days=PAST_DAYS), today + timedelta(days=FUTURE_DAYS)
    holidays = list(Holiday.objects.filter(date__range=(first, last)).values_list("date", flat=True))
    windows = [Window(d, s, e) for d, s, e in FULL_WEEK]
    # Patients by TTYT; token holders and heavy patients get a share on purpose.
    by_ttyt: list[list[int]] = [[] for _ in ctx.centres]
    holders: list[list[int]] = [[] for _ in ctx.centres]
    for n, p in enumerate(ctx.people):
        t = ttyt_of(ctx, p.station)
        by_ttyt[t].append(p.patient_id)
        if n < ctx.accounts:
            holders[t].append(p.patient_id)
    total_bookings = int(len(ctx.people) * BOOKINGS_PER_PATIENT)
    services: list[tuple[int, Any, Any]] = []  # (ttyt index, service, room)
    for t, centre in enumerate(ctx.centres):
        dept = Facility.objects.create(
            kind=FacilityKind.DEPARTMENT,
            code=f"KKB-B{t + 1}",
            name="Khoa Khám bệnh",
            parent=centre,
            province_code=31,
        )
        dept.path = f"{centre.path}{dept.pk}/"
        dept.save(update_fields=["path"])
        count = len(SPECIALITIES) if t == ctx.largest_ttyt else 6
        for code, name, capacity in SPECIALITIES[:count]:
            room = Facility.objects.create(
                kind=FacilityKind.CLINIC_ROOM,
                code=f"PK-B{t + 1}-{code.upper()}",
                name=f"Phòng {name.lower()}",
                parent=dept,
                province_code=31,
            )
            room.path = f"{dept.path}{room.pk}/"
            room.save(update_fields=["path"])
            service = Service.objects.create(
                facility=room,
                code=f"kham-{code}",
                name=name,
                short_name=f"Kham {code}"[:40],
                capacity_per_slot=capacity,
                booking_horizon_days=FUTURE_DAYS + 16,
            )
            ScheduleTemplate.objects.bulk_create(
                ScheduleTemplate(service=service, weekday=d, start_time=s, end_time=e)
                for d, s, e in FULL_WEEK
            )
            services.append((t, service, room))
    ttyt_patients = [len(x) for x in by_ttyt]
    slots_of = {
        s.pk: compute_slots(
            templates=windows,
            overrides=[],
            holidays=holidays,
            duration_minutes=s.duration_minutes,
            capacity=s.capacity_per_slot,
            start_date=first,
            end_date=last,
            now=datetime.combine(first - timedelta(days=1), time(0), tzinfo=UTC),
        )
        for _, s, _ in services
    }
    seats_of = {pk: sum(x.capacity for x in slots) for pk, slots in slots_of.items()}
    ttyt_seats = [sum(seats_of[s.pk] for tt, s, _ in services if tt == t) for t in range(len(ctx.centres))]
    appts = ModelInserter(cur, Appointment, now=ctx.created, batch=5000)
    counters: dict[tuple[int, datetime], int] = defaultdict(int)
    queue: dict[int, list[tuple[datetime, int]]] = defaultdict(list)  # service -> (checked-in at, row index)
    pending_rows: list[dict[str, Any]] = []
    heavy_ids = [p.patient_id for p in ctx.heavy]
    heavy_share = 0.0
    number = 0
    aid = _next_id(cur, "appointments_appointment")
    status_counts: dict[str, int] = defaultdict(int)
    for t, service, room in services:
        wanted_ttyt = total_bookings * ttyt_patients[t] // max(1, len(ctx.people))
        wanted = wanted_ttyt * seats_of[service.pk] // max(1, ttyt_seats[t])
        wanted = min(wanted, int(seats_of[service.pk] * 0.85))
        if t == ctx.largest_ttyt:
            heavy_share = 200 * len(heavy_ids) / max(1, wanted_ttyt)
        slots = slots_of[service.pk]
        offsets, acc = [], 0
        for s in slots:
            offsets.append(acc)
            acc += s.capacity
        desk = ctx.desk_users[(ctx.centres[t].pk, "booking_desk")]
        reception = ctx.desk_users[(ctx.centres[t].pk, "reception")]
        for pair in rng.sample(range(acc), wanted):
            slot = slots[bisect.bisect_right(offsets, pair) - 1]
            local_day = local_date_of(slot.start)
            roll = rng.random()
            row: dict[str, Any] = {}
            if local_day == today:
                if slot.start <= now:
                    status = rng.choices(
                        ("completed", "checked_in", "confirmed", "cancelled"), weights=(40, 45, 7, 8)
                    )[0]
                else:
                    status = rng.choices(
                        ("confirmed", "checked_in", "requested", "cancelled"), weights=(75, 10, 8, 7)
                    )[0]
            elif slot.start > now:
                status = "cancelled" if roll < 0.08 else "requested" if roll < 0.30 else "confirmed"
            else:
                status = "cancelled" if roll < 0.10 else "no_show" if roll < 0.22 else "completed"
            status_counts[status] += 1
            channel = rng.choices(("app", "web", "phone", "desk"), weights=(8, 12, 40, 40))[0]
            made = min(slot.start - timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 600)), now)
            if status == "requested":
                made = now - timedelta(hours=rng.uniform(0.1, 60))
                channel = rng.choice(("app", "web"))
            if t == ctx.largest_ttyt and rng.random() < heavy_share:
                patient = rng.choice(heavy_ids)
            elif holders[t] and rng.random() < 0.055:
                patient = rng.choice(holders[t])
            else:
                patient = rng.choice(by_ttyt[t])
            ctx.booked_patients.add(patient)
            if status in ("confirmed", "checked_in", "completed", "no_show"):
                row["confirmed_at"] = fmt(made + timedelta(hours=1))
                row["confirmed_by_id"] = desk if channel in ("app", "web") else None
            if status in ("checked_in", "completed"):
                arrived = min(slot.start - timedelta(minutes=rng.randint(5, 40)), now - timedelta(minutes=1))
                row["checked_in_at"] = fmt(arrived)
                row["checked_in_by_id"] = reception
                row["queue_date"] = local_day
                if local_day == today:
                    queue[service.pk].append((arrived, len(pending_rows)))
            if status == "completed":
                row["completed_at"] = fmt(min(slot.start + timedelta(minutes=20), now))
                row["called_at"] = fmt(min(slot.start + timedelta(minutes=5), now))
            if status == "cancelled":
                row["cancelled_at"] = fmt(made + (min(slot.start, now) - made) * rng.random())
                row["cancel_source"] = rng.choice(("patient", "patient", "staff", "declined"))
            else:
                counters[(service.pk, slot.start)] += 1
            row.update(
                id=aid,
                created_at=fmt(made),
                updated_at=fmt(made),
                patient_id=patient,
                service_id=service.pk,
                facility_id=room.pk,
                slot_start=fmt(slot.start),
                slot_end=fmt(slot.end),
                channel=channel,
                status=status,
                check_in_code=code_of(number + 32**7),
                link_code=code_of(number + 31**7, LINK_ALPHABET),
                is_reexam=rng.random() < 0.15,
                created_by_id=desk if channel in ("phone", "desk") else None,
            )
            aid += 1
            number += 1
            pending_rows.append(row)
        # Today's queue: numbers in order of arrival (the check-in service's per-day counter).
        for position, (_, index) in enumerate(sorted(queue[service.pk]), start=1):
            pending_rows[index]["queue_number"] = position
        if queue[service.pk]:
            QueueCounter.objects.create(service=service, local_date=today, last_number=len(queue[service.pk]))
        for row in pending_rows:
            appts.add(**row)
        pending_rows.clear()
    appts.flush()
    # The patients' visit tally (appointments.models.PatientVisitTally) from the bookings just inserted: the raw
    # inserts bypass Appointment.save(), so it is counted once here, as the migration's backfill counts it.
    from health_f0.appointments.models import PatientVisitTally, rebuild_sql

    cur.execute(f"DELETE FROM {PatientVisitTally._meta.db_table}")  # noqa: S608
    cur.execute(rebuild_sql(Appointment._meta.db_table, PatientVisitTally._meta.db_table))
    slot_ins = ModelInserter(cur, SlotCounter, now=ctx.created)
    for (sid, start), n in counters.items():
        slot_ins.add(service_id=sid, slot_start=fmt(start), booked=n)
    slot_ins.flush()
    largest_today = sum(len(queue[s.pk]) for t, s, _ in services if t == ctx.largest_ttyt)
    ctx.counts.update(
        services=len(services),
        appointments=appts.count,
        slot_counters=slot_ins.count,
        checked_in_today_largest_ttyt=largest_today,
        **{f"appointments_{k}": v for k, v in sorted(status_counts.items())},
    )
    ctx.step(
        f"{len(services)} services, {appts.count} bookings ({dict(status_counts)}), {slot_ins.count} slot counters"
    )


# --- HIS -------------------------------------------------------------------------------------------------
def his(ctx: Context) -> None:
    """HisLink at the patient's TTYT for HIS_LINKED_SHARE of the patients (every token holder and heavy patient
    included), ~3 visits with ~4 lab results each per linked patient (heavy: 300 visits, 10 results each), and
    open link requests at the TTYTs (more at the largest)."""
    from health_f0.his.models import HisLabResult, HisLink, HisLinkRequest, HisVisit

    cur, rng, now = ctx.cursor, ctx.rng, ctx.now
    links = ModelInserter(cur, HisLink, now=ctx.created)
    done_requests = ModelInserter(cur, HisLinkRequest, now=ctx.created)
    request_id = _next_id(cur, "his_hislinkrequest")
    visits = ModelInserter(cur, HisVisit, now=ctx.created)
    labs = ModelInserter(cur, HisLabResult, now=ctx.created, batch=10000)
    vid = _next_id(cur, "his_hisvisit")
    heavy_ids = {p.patient_id for p in ctx.heavy}
    chosen = [
        (n, p)
        for n, p in enumerate([*ctx.people, *ctx.heavy])
        if n < ctx.accounts or p.patient_id in heavy_ids or rng.random() < HIS_LINKED_SHARE
    ]
    for _n, p in chosen:
        centre = ctx.centres[ttyt_of(ctx, p.station)]
        linker = ctx.desk_users[(centre.pk, "his_linker")]
        code = f"BN{p.patient_id:08d}"
        linked_at = now - timedelta(days=rng.randint(1, 400))
        asked_at = linked_at - timedelta(hours=rng.uniform(0.1, 48))
        done_requests.add(
            id=request_id,
            created_at=fmt(asked_at),
            updated_at=fmt(linked_at),
            patient_id=p.patient_id,
            facility_id=centre.pk,
            identifier_type="his_code",
            identifier=code,
            status="linked",
            channel=rng.choice(("portal", "app", "app", "reception")),
            decided_by_id=linker,
            decided_at=fmt(linked_at),
            his_patient_id=code,
        )
        links.add(
            request_id=request_id,
            created_at=fmt(linked_at),
            updated_at=fmt(linked_at),
            patient_id=p.patient_id,
            facility_id=centre.pk,
            his_patient_id=code,
            identifiers={"his_code": code},
            his_code=code,
            record_source="xml",
            his_full_name=p.name,
            his_date_of_birth=p.dob,
            linked_at=fmt(linked_at),
            linked_by_id=linker,
            backfilled_at=fmt(linked_at + timedelta(minutes=5)),
        )
        request_id += 1
        ctx.linked_patients.add(p.patient_id)
        heavy = p.patient_id in heavy_ids
        n_visits = 300 if heavy else rng.choice((1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 5))
        for _ in range(n_visits):
            admitted = now - timedelta(days=rng.uniform(1, 700 if heavy else 400))
            icd, text = rng.choice(DIAGNOSES)
            dept_code, dept_name = rng.choice(DEPARTMENTS)
            ma_lk = f"LK{vid:010d}"
            visits.add(
                id=vid,
                created_at=fmt(admitted + timedelta(hours=6)),
                updated_at=fmt(admitted + timedelta(hours=6)),
                patient_id=p.patient_id,
                facility_id=centre.pk,
                source="xml",
                external_id=ma_lk,
                his_patient_id=code,
                department_code=dept_code,
                department_name=dept_name,
                admitted_at=fmt(admitted),
                discharged_at=fmt(admitted + timedelta(hours=2)),
                diagnosis_text=text,
                icd10=icd,
            )
            n_labs = 10 if heavy else rng.choice((0, 2, 4, 4, 5, 6, 7))
            for k, (tc, tname, unit, low, high, vmin, vmax) in enumerate(rng.sample(LAB_TESTS, n_labs)):
                value = round(rng.uniform(vmin, vmax), 1)
                flag = "H" if value > high else "L" if value < low else "N"
                labs.add(
                    created_at=fmt(admitted + timedelta(hours=6)),
                    updated_at=fmt(admitted + timedelta(hours=6)),
                    visit_id=vid,
                    visit_ref=ma_lk,
                    patient_id=p.patient_id,
                    facility_id=centre.pk,
                    source="xml",
                    external_id=f"{ma_lk}-{k + 1}",
                    code=tc,
                    name=tname,
                    value=str(value),
                    value_number=Decimal(str(value)),
                    unit=unit,
                    reference_low=Decimal(str(low)),
                    reference_high=Decimal(str(high)),
                    reference_text=f"{low} - {high}",
                    flag=flag,
                    observed_at=fmt(admitted + timedelta(hours=1)),
                    # No report: a result sorts at its own time (HisLabResult.sort_at, his 0006).
                    sort_at=fmt(admitted + timedelta(hours=1)),
                )
            vid += 1
    for ins in (done_requests, links, visits, labs):
        ins.flush()
    # Open link requests from patients not linked yet: 40% at the largest TTYT.
    requests = ModelInserter(cur, HisLinkRequest, now=ctx.created)
    unlinked = [p for p in ctx.people if p.patient_id not in ctx.linked_patients]
    n_requests = min(len(unlinked), max(50, len(ctx.people) // 250))
    largest = ctx.centres[ctx.largest_ttyt]
    at_largest = 0
    for p in rng.sample(unlinked, n_requests):
        centre = largest if rng.random() < 0.4 else ctx.centres[ttyt_of(ctx, p.station)]
        at_largest += centre.pk == largest.pk
        kind = rng.choice(("bhyt", "cccd", "his_code"))
        identifier = {"bhyt": f"HS431{p.patient_id:010d}", "cccd": f"031{p.patient_id:09d}"}.get(
            kind, f"BN{p.patient_id:08d}"
        )
        review = rng.random() < 0.3
        at = now - timedelta(hours=rng.uniform(0.5, 96))
        requests.add(
            created_at=fmt(at),
            updated_at=fmt(at),
            patient_id=p.patient_id,
            facility_id=centre.pk,
            identifier_type=kind,
            identifier=identifier,
            status="needs_review" if review else "requested",
            channel=rng.choice(("portal", "app", "app", "reception")),
            candidates=(
                [
                    {
                        "his_patient_id": f"BN{p.patient_id:08d}",
                        "full_name": p.name,
                        "date_of_birth": p.dob.isoformat(),
                        "source": "xml",
                        "identifiers": {"his_code": f"BN{p.patient_id:08d}"},
                        "matches": {"full_name": True, "date_of_birth": rng.random() < 0.5},
                    }
                ]
                if review
                else []
            ),
        )
    requests.flush()
    ctx.counts.update(
        his_links=links.count,
        his_visits=visits.count,
        his_lab_results=labs.count,
        his_link_requests_open=requests.count,
        his_link_requests_open_largest_ttyt=at_largest,
    )
    ctx.step(
        f"{links.count} HIS links, {visits.count} visits, {labs.count} lab results, "
        f"{requests.count} open link requests ({at_largest} at the largest TTYT)"
    )


# --- Alerts ----------------------------------------------------------------------------------------------
def open_alerts(ctx: Context) -> None:
    """Count the open alerts of the largest station (generate.py leaves 30% of yesterday's open)."""
    ctx.cursor.execute(
        "SELECT COUNT(*) FROM monitoring_alert WHERE facility_id = %s AND acknowledged_at IS NULL",
        [ctx.stations[ctx.largest_station].pk],
    )
    ctx.counts["open_alerts_largest_station"] = int(ctx.cursor.fetchone()[0])


# --- Staff tokens and the outputs ------------------------------------------------------------------------
def staff_tokens(ctx: Context) -> None:
    from health_f0.api.models import hash_token

    cur = ctx.cursor
    hints = _row_hints(ctx)
    expires = fmt(ctx.now + timedelta(days=60))
    lines = ["token\tusername\trole\tfacility_code\tfacility_kind\trows_hint"]
    rows = []
    for user, facility, role in ctx.staff:
        raw = secrets.token_urlsafe(32)
        rows.append((hash_token(raw), raw[:8], ctx.created, expires, user.pk))
        hint = hints.get((facility.pk, role), hints.get((facility.pk, "*"), 0))
        lines.append(f"{raw}\t{user.username}\t{role}\t{facility.code}\t{facility.kind}\t{hint}")
    cur.executemany(
        "INSERT INTO api_apitoken (key_hash, prefix, created_at, expires_at, user_id) VALUES (%s,%s,%s,%s,%s)",
        rows,
    )
    (ctx.out / "staff_tokens.tsv").write_text("\n".join(lines) + "\n")
    ctx.step(f"{len(rows)} staff API tokens in {ctx.out / 'staff_tokens.tsv'}")


def _row_hints(ctx: Context) -> dict[tuple[int, str], int]:
    """Roughly how many rows each staff member's main list holds (what the benchmark should expect)."""
    cur = ctx.cursor
    hints: dict[tuple[int, str], int] = {}
    for i, s in enumerate(ctx.stations):
        hints[(s.pk, "*")] = ctx.station_sizes[i]
    for c in ctx.centres:
        cur.execute(
            "SELECT COUNT(*) FROM appointments_appointment a JOIN facilities_facility f ON f.id = a.facility_id "
            "WHERE f.path LIKE %s AND a.status = 'requested'",
            [f"{c.path}%"],
        )
        hints[(c.pk, "booking_desk")] = int(cur.fetchone()[0])
        cur.execute(
            "SELECT COUNT(*) FROM appointments_appointment a JOIN facilities_facility f ON f.id = a.facility_id "
            "WHERE f.path LIKE %s AND a.slot_start >= %s AND a.slot_start < %s",
            [
                f"{c.path}%",
                fmt(datetime.combine(ctx.today, time(0), tzinfo=UTC) - timedelta(hours=7)),
                fmt(datetime.combine(ctx.today, time(0), tzinfo=UTC) + timedelta(hours=17)),
            ],
        )
        hints[(c.pk, "reception")] = int(cur.fetchone()[0])
        cur.execute(
            "SELECT COUNT(*) FROM his_hislinkrequest WHERE facility_id = %s AND status IN ('requested', "
            "'needs_review')",
            [c.pk],
        )
        hints[(c.pk, "his_linker")] = int(cur.fetchone()[0])
        hints[(c.pk, "manager")] = sum(
            n for i, n in enumerate(ctx.station_sizes) if ctx.stations[i].parent_id == c.pk
        )
    hints[(ctx.doh.pk, "manager")] = len(ctx.people)
    return hints


def write_outputs(ctx: Context) -> None:
    station = ctx.stations[ctx.largest_station]
    centre = ctx.centres[ctx.largest_ttyt]
    largest = {
        "station": station.code,
        "station_patients": ctx.station_sizes[ctx.largest_station],
        "station_staff": f"nv.{station.code.lower()}",
        "station_head": f"truong.{station.code.lower()}",
        "ttyt": centre.code,
        "ttyt_staff": {
            "booking_desk": f"datlich.{centre.code.lower()}",
            "reception": f"tiepdon.{centre.code.lower()}",
            "his_linker": f"lienket.{centre.code.lower()}",
            "manager": f"lanhdao.{centre.code.lower()}",
        },
        "doh_manager": "lanhdao.syt",
        "password": "bench-2026",
    }
    (ctx.out / "largest.json").write_text(json.dumps(largest, indent=1) + "\n")
    (ctx.out / "heavy_tokens.txt").write_text("\n".join(ctx.heavy_tokens) + "\n")
    rich = [
        token
        for p, token in zip(ctx.people[: ctx.accounts], ctx.tokens, strict=False)
        if p.patient_id in ctx.booked_patients and p.patient_id in ctx.linked_patients
    ]
    (ctx.out / "patient_tokens_all.txt").write_text("\n".join(rich) + "\n")
    ctx.counts["patient_tokens_all"] = len(rich)
    ctx.step(
        f"largest station {station.code}, largest TTYT {centre.code}; {len(rich)} tokens with bookings and HIS "
        f"data in patient_tokens_all.txt, {len(ctx.heavy_tokens)} in heavy_tokens.txt"
    )


ANALYZE_TABLES = [
    "registration_registration",
    "appointments_appointment",
    "appointments_slotcounter",
    "appointments_queuecounter",
    "his_hislink",
    "his_hisvisit",
    "his_hislabresult",
    "his_hislinkrequest",
    "api_apitoken",
    "core_user",
]


# --- Sanity check ----------------------------------------------------------------------------------------
COUNTED = [
    "patients_patient",
    "core_user",
    "api_apitoken",
    "facilities_membership",
    "monitoring_episode",
    "monitoring_declaration",
    "monitoring_alert",
    "monitoring_reminderlog",
    *ANALYZE_TABLES[:-2],
]


def check(out: Path) -> None:
    """Counts per table, the patient API lists for a few tokens, and the desk pages of the largest station and
    TTYT opened by their staff (Django test client, force_login)."""
    from _django import setup

    setup()
    from django.db import connection
    from django.test import Client

    from health_f0.core.models import User

    with connection.cursor() as cur:
        for table in COUNTED:
            cur.execute(f"SELECT COUNT(*) FROM `{table}`")
            print(f"{table:32} {cur.fetchone()[0]:>10}")
        cur.execute("SELECT status, COUNT(*) FROM registration_registration GROUP BY status")
        print("registrations by status:", dict(cur.fetchall()))
        cur.execute("SELECT status, COUNT(*) FROM appointments_appointment GROUP BY status")
        print("appointments by status:", dict(cur.fetchall()))
        cur.execute(
            "SELECT COUNT(*) FROM appointments_slotcounter c WHERE c.booked <> (SELECT COUNT(*) FROM "
            "appointments_appointment a WHERE a.service_id = c.service_id AND a.slot_start = c.slot_start "
            "AND a.status <> 'cancelled')"
        )
        print("slot counters not matching their bookings:", cur.fetchone()[0])
    client = Client()
    for name in ("tokens.txt", "patient_tokens_all.txt", "heavy_tokens.txt"):
        token = (out / name).read_text().split()[0]
        for path in (
            "/api/v1/declarations?limit=100",
            "/api/v1/appointments?limit=100",
            "/api/v1/visits?limit=100",
            "/api/v1/lab-results?limit=100",
            "/api/v1/his-links",
            "/api/v1/episodes",
        ):
            try:
                r = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
            except Exception as exc:  # an app error is reported, the check goes on
                print(f"{name:24} {path:36} ERROR {type(exc).__name__}: {exc}")
                continue
            body = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
            rows = body.get("results", body.get("items", body)) if isinstance(body, dict) else body
            print(f"{name:24} {path:36} {r.status_code} {len(rows) if isinstance(rows, list) else '?'} rows")
    largest = json.loads((out / "largest.json").read_text())
    staff_lines = [line.split("\t") for line in (out / "staff_tokens.tsv").read_text().splitlines()[1:]]
    tokens = {line[1]: line[0] for line in staff_lines}
    for user, path in (
        (largest["station_staff"], "/api/v1/alerts?limit=100"),
        (largest["station_staff"], "/api/v1/registrations?limit=100"),
        (largest["ttyt_staff"]["booking_desk"], "/api/v1/staff/appointments?limit=100"),
        (largest["ttyt_staff"]["reception"], "/api/v1/staff/appointments?limit=100"),
    ):
        try:
            r = client.get(path, HTTP_AUTHORIZATION=f"Bearer {tokens[user]}")
        except Exception as exc:
            print(f"{user:24} {path:40} ERROR {type(exc).__name__}: {exc}")
            continue
        print(f"{user:24} {path:40} {r.status_code} {len(r.content)} bytes")
    pages = {
        largest["station_staff"]: [
            "/desk/",
            "/desk/registration/registration/",
            "/desk/monitoring/alert/",
            "/desk/monitoring/episode/",
        ],
        largest["ttyt_staff"]["booking_desk"]: ["/desk/appointments/appointment/"],
        largest["ttyt_staff"]["reception"]: ["/desk/appointments/appointment/"],
        largest["ttyt_staff"]["his_linker"]: ["/desk/his/hislinkrequest/", "/desk/his/hislink/"],
    }
    from django.test import override_settings

    plain_static = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=plain_static).enable()  # no collectstatic manifest for the bench settings
    for username, paths in pages.items():
        c = Client()
        c.force_login(User.objects.get(username=username))
        for path in paths:
            try:
                r = c.get(path)
            except Exception as exc:
                print(f"desk {username:24} {path:44} ERROR {type(exc).__name__}: {exc}")
                continue
            print(
                f"desk {username:24} {path:44} {r.status_code} {len(r.content)} bytes {r.get('Location', '')}"
            )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Sanity check of the --full data set (counts, API, desk).")
    parser.add_argument("--check", action="store_true", required=True)
    parser.add_argument(
        "--out", type=Path, default=OUT, help="the token files' directory (generate.py --out)"
    )
    check(parser.parse_args().out)
