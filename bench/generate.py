"""Generate one province's home-care data for the benchmarks, fast (multi-row INSERTs, no ORM per row).

    DATABASE_URL=mysql://health_f0_test:health_f0_test@127.0.0.1:3306/hf0_bench \
        .venv/bin/python bench/generate.py --patients 100000 --days 15 --stations 40

Creates: Sở Y tế (SYT-31, Hải Phòng) -> TTYT -> stations serving real wards of province 31; staff
(station_staff and station_head per station, password `bench-2026`); N patients with an active episode,
spread unevenly over the stations; a patient account and an API token for the first --accounts patients
(raw tokens in bench/out/tokens.txt, gitignored); --days past days of declarations (about one per patient
a day: some skip a day, some declare twice) with realistic vitals, alerts for those above "none"
(acknowledged, except part of yesterday's), ReminderLog rows for the reminders those days needed; and the
questionnaire and triage rules (manage.py load_monitoring_reference). Nothing is declared today: the
morning before the rush, so every patient is silent (what the reminder fan-out benchmark needs).

--full (issue 11) adds what every list endpoint and desk worklist needs: registrations, appointments, HIS
links/visits/lab results, heavy patients, staff tokens (bench/_generate_full.py; docs/benchmarks.md, "Data set for
the read benchmarks"). --out DIR writes the token files elsewhere than bench/out (for development databases).

The database is flushed first: the script refuses to run on a database whose name lacks "bench".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import secrets
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import OUT, setup  # noqa: E402
from _generate_full import ANALYZE_TABLES  # noqa: E402

VN = ZoneInfo("Asia/Ho_Chi_Minh")
PASSWORD = "bench-2026"
SURNAMES = (
    ["Nguyễn"] * 38
    + ["Trần"] * 11
    + ["Lê"] * 9
    + ["Phạm"] * 7
    + ["Hoàng"] * 5
    + ["Vũ"] * 4
    + ["Phan"] * 4
    + ["Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đào", "Đinh", "Mai", "Trịnh", "Lương", "Cao"] * 2
)
MIDDLE_M = ["Văn", "Hữu", "Đức", "Minh", "Quang", "Thành", "Xuân", "Ngọc", "Công", "Anh"]
MIDDLE_F = ["Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Hồng", "Phương", "Bảo"]
GIVEN_M = [
    "Hùng",
    "Dũng",
    "Nam",
    "Tuấn",
    "Hải",
    "Long",
    "Minh",
    "Sơn",
    "Thắng",
    "Quân",
    "Huy",
    "Phúc",
    "Khoa",
    "Đạt",
    "Tùng",
    "Cường",
    "Kiên",
    "Trung",
    "Hiếu",
    "Bình",
    "An",
    "Khánh",
    "Việt",
    "Toàn",
]
GIVEN_F = [
    "Lan",
    "Hương",
    "Hoa",
    "Mai",
    "Linh",
    "Trang",
    "Hà",
    "Ngọc",
    "Thảo",
    "Huyền",
    "Nhung",
    "Yến",
    "Phương",
    "Anh",
    "Vân",
    "Hạnh",
    "Thủy",
    "Dung",
    "Quỳnh",
    "Oanh",
    "Giang",
    "Loan",
    "Châu",
    "My",
]
STREETS = [
    "Trần Hưng Đạo",
    "Lê Lợi",
    "Nguyễn Trãi",
    "Hoàng Văn Thụ",
    "Lạch Tray",
    "Tô Hiệu",
    "Điện Biên Phủ",
    "Quang Trung",
    "Bạch Đằng",
    "Thống Nhất",
    "Chi Lăng",
    "Lê Thanh Nghị",
    "Nguyễn Lương Bằng",
]
MILD = ["fatigue", "cough", "sputum", "sore_throat", "headache", "loss_taste_smell", "chills", "diarrhoea"]
RANK = {"none": 0, "watch": 1, "urgent": 2, "emergency": 3}


def fmt(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class Inserter:
    """Multi-row INSERTs through MySQLdb's executemany (it batches VALUES rows into one statement)."""

    def __init__(self, cursor: Any, table: str, columns: list[str], batch: int = 5000) -> None:
        self.cursor, self.batch, self.count = cursor, batch, 0
        self.rows: list[tuple[Any, ...]] = []
        cols = ", ".join(f"`{c}`" for c in columns)
        self.sql = f"INSERT INTO `{table}` ({cols}) VALUES ({', '.join(['%s'] * len(columns))})"

    def add(self, row: tuple[Any, ...]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.cursor.executemany(self.sql, self.rows)
            self.count += len(self.rows)
            self.rows = []


def next_id(cursor: Any, table: str) -> int:
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM `{table}`")
    return int(cursor.fetchone()[0])


def vitals(rng: random.Random, base_spo2: int, child: bool) -> tuple[float, int, int, int, list[str]]:
    r = rng.random()
    spo2 = max(97, base_spo2 + rng.choice((-1, 0, 0, 1)))
    if r < 0.004:
        spo2 = rng.randint(89, 93)
    elif r < 0.04:
        spo2 = rng.randint(95, 96)
    spo2 = min(spo2, 100)
    temp = round(rng.gauss(36.9, 0.35), 1)
    if rng.random() < 0.04:
        temp = round(rng.uniform(38.0, 39.4), 1)
    rr = rng.randint(22, 34) if child else rng.randint(15, 19)
    if not child and rng.random() < 0.02:
        rr = rng.randint(20, 24)
    pulse = rng.randint(90, 125) if child else rng.randint(62, 98)
    symptoms = rng.sample(MILD, rng.randint(1, 2)) if rng.random() < 0.4 else []
    if rng.random() < 0.003:
        symptoms.append(rng.choice(["shortness_of_breath", "chest_pain", "coughing_blood"]))
    return temp, spo2, rr, pulse, sorted(symptoms)


def triage(
    temp: float, spo2: int, rr: int, pulse: int, symptoms: list[str], child: bool
) -> tuple[str, list[str]]:
    """The seeded rules' main thresholds (fixtures/monitoring.json), enough for realistic levels."""
    level, reasons = "none", []

    def hit(new: str, reason: str) -> None:
        nonlocal level
        reasons.append(reason)
        if RANK[new] > RANK[level]:
            level = new

    if spo2 < 94:
        hit("emergency", f"SpO2 {spo2}% dưới 94% (mức độ nặng)")
    elif spo2 <= 96:
        hit("urgent", f"SpO2 {spo2}% ≤ 96%")
    if not child and rr > 25:
        hit("emergency", f"Nhịp thở {rr} lần/phút > 25 (mức độ nặng)")
    elif not child and rr >= 20:
        hit("urgent", f"Nhịp thở {rr} lần/phút (người lớn ≥ 20)")
    if pulse > 120:
        hit("urgent", f"Mạch {pulse} lần/phút > 120")
    if temp >= 38:
        hit("watch", f"Sốt {str(temp).replace('.', ',')} °C")
    if "shortness_of_breath" in symptoms:
        hit("emergency", "Khó thở")
    if "chest_pain" in symptoms:
        hit("emergency", "Đau tức ngực kéo dài")
    if "coughing_blood" in symptoms:
        hit("urgent", "Ho ra máu")
    return level, reasons


def submit_time(rng: random.Random) -> tuple[int, int]:
    """Local (hour, minute): most before the 08:00 reminder, a few after the 10:00 deadline."""
    r = rng.random()
    if r < 0.55:
        minutes = rng.randint(6 * 60, 8 * 60 - 1)
    elif r < 0.85:
        minutes = rng.randint(8 * 60, 9 * 60 + 29)
    elif r < 0.95:
        minutes = rng.randint(9 * 60 + 30, 9 * 60 + 59)
    else:
        minutes = rng.randint(10 * 60, 12 * 60)
    return divmod(minutes, 60)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=15, help="past days of declarations")
    parser.add_argument("--stations", type=int, default=40)
    parser.add_argument("--ttyt", type=int, default=4)
    parser.add_argument("--accounts", type=int, default=2000, help="patients with an account and API token")
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument(
        "--out", type=Path, default=OUT, help="where the token files and the manifest go (default bench/out)"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="the read-benchmark data set of issue 11: every patient registered and with an account, "
        "appointments, HIS data, heavy patients, staff tokens (bench/_generate_full.py)",
    )
    args = parser.parse_args()
    setup()

    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, transaction

    from health_f0.api.models import hash_token
    from health_f0.facilities.models import Facility, FacilityKind, Membership, Role, StationWard
    from health_f0.monitoring.models import QuestionnaireVersion
    from health_f0.monitoring.services import reset_caches
    from health_f0.patients.address import wards_of

    db_name = settings.DATABASES["default"]["NAME"]
    if "bench" not in db_name:
        sys.exit(f"Refusing to flush {db_name!r}: use a database whose name contains 'bench'.")
    rng = random.Random(args.seed)
    started = time.monotonic()

    def step(label: str) -> None:
        print(f"[{time.monotonic() - started:7.1f}s] {label}", flush=True)

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    call_command("load_monitoring_reference", verbosity=0)
    reset_caches()
    step(f"flushed {db_name}, questionnaire and rules loaded")

    today = datetime.now(VN).date()
    now = datetime.now(UTC)
    password_hash = make_password(PASSWORD, hasher="pbkdf2_sha256")  # hashed once, shared by every account
    version = QuestionnaireVersion.objects.get(is_active=True)

    # --- Facilities, wards, staff ---------------------------------------------------------------
    with transaction.atomic():
        doh = Facility.objects.create(
            kind=FacilityKind.DEPARTMENT_OF_HEALTH, code="SYT-31", name="Sở Y tế Hải Phòng", province_code=31
        )
        doh.path = f"/{doh.pk}/"
        doh.save(update_fields=["path"])
        centres = []
        for i in range(args.ttyt):
            c = Facility.objects.create(
                kind=FacilityKind.HEALTH_CENTRE,
                code=f"TTYT-B{i + 1}",
                name=f"Trung tâm Y tế khu vực {i + 1}",
                parent=doh,
                province_code=31,
                hotline=f"02203{i + 1:06d}",
            )
            c.path = f"{doh.path}{c.pk}/"
            c.save(update_fields=["path"])
            centres.append(c)
        wards = wards_of(31)
        rng.shuffle(wards)
        n_stations = min(args.stations, len(wards))
        stations, station_wards = [], []
        for i in range(n_stations):
            code, name = wards[i]
            parent = centres[i % len(centres)]
            short = name.replace("Phường ", "P.").replace("Xã ", "X.")
            s = Facility.objects.create(
                kind=FacilityKind.STATION,
                code=f"TYT-{code}",
                name=f"Trạm Y tế {name}",
                parent=parent,
                province_code=31,
                short_name=f"TYT {short}"[:60],
                hotline=f"0912{code:06d}"[:10],
            )
            s.path = f"{parent.path}{s.pk}/"
            s.save(update_fields=["path"])
            stations.append(s)
            station_wards.append([(code, name)])
        # The remaining wards go to stations round-robin (a station serves one to a few wards).
        for j, (code, name) in enumerate(wards[n_stations:]):
            station_wards[j % n_stations].append((code, name))
        StationWard.objects.bulk_create(
            StationWard(station=s, ward_code=code, ward_name=name, province_code=31)
            for s, ws in zip(stations, station_wards, strict=True)
            for code, name in ws
        )
        from health_f0.core.models import User

        staff = []
        for s in stations:
            for suffix, role in (("nv", Role.STATION_STAFF), ("truong", Role.STATION_HEAD)):
                u = User(
                    username=f"{suffix}.{s.code.lower()}",
                    password=password_hash,
                    phone="+84912000000",
                    is_staff=True,
                )
                staff.append((u, s, role))
        for c in centres:
            staff.append(
                (
                    User(username=f"lanhdao.{c.code.lower()}", password=password_hash, is_staff=True),
                    c,
                    Role.MANAGER,
                )
            )
        staff.append((User(username="lanhdao.syt", password=password_hash, is_staff=True), doh, Role.MANAGER))
        User.objects.bulk_create([u for u, _, _ in staff])
        Membership.objects.bulk_create(Membership(user=u, facility=f, role=r) for u, f, r in staff)
    step(
        f"{len(centres)} TTYT, {len(stations)} stations, {sum(map(len, station_wards))} wards, {len(staff)} staff"
    )

    # --- Patients, accounts, tokens, episodes ----------------------------------------------------
    weights = [rng.lognormvariate(0, 0.7) for _ in stations]
    total = sum(weights)
    cum, acc = [], 0.0
    for w in weights:
        acc += w / total
        cum.append(acc)
    import bisect

    cur = connection.cursor()
    cur.execute("SET SESSION foreign_key_checks=0, unique_checks=0")
    patient_id0 = next_id(cur, "patients_patient")
    user_id0 = next_id(cur, "core_user")
    episode_id0 = next_id(cur, "monitoring_episode")
    decl_id0 = next_id(cur, "monitoring_declaration")
    registration_id0 = next_id(cur, "registration_registration")
    patients_ins = Inserter(
        cur,
        "patients_patient",
        [
            "id",
            "public_id",
            "created_at",
            "updated_at",
            "full_name",
            "date_of_birth",
            "sex",
            "phone",
            "cccd",
            "bhyt",
            "province_code",
            "ward_code",
            "ward_name",
            "street",
            "facility_id",
            "account_id",
            "details_confirmed_at",
            "verified_phone",
        ],
    )
    users_ins = Inserter(
        cur,
        "core_user",
        [
            "id",
            "password",
            "is_superuser",
            "username",
            "first_name",
            "last_name",
            "email",
            "is_staff",
            "is_active",
            "date_joined",
            "must_change_password",
            "phone",
        ],
    )
    tokens_ins = Inserter(
        cur, "api_apitoken", ["key_hash", "prefix", "created_at", "last_used_at", "expires_at", "user_id"]
    )
    episodes_ins = Inserter(
        cur,
        "monitoring_episode",
        [
            "id",
            "public_id",
            "created_at",
            "updated_at",
            "status",
            "start_date",
            "expected_end_date",
            "last_declared_on",
            "declarations_on_last_day",
            "last_alert_level",
            "negative_test_type",
            "end_reason",
            "certificate_code",
            "facility_id",
            "patient_id",
            "registration_id",
        ],
    )
    token_lines = []
    persons: list[Any] = []  # --full: what each patient's registration repeats (_generate_full.Person)
    # Per patient: (episode id, patient id, account id, station index, start, base SpO2, child)
    people: list[tuple[int, int, int | None, int, date, int, bool]] = []
    created = fmt(now - timedelta(days=args.days + 3))
    expires = fmt(now + timedelta(days=60))
    for i in range(args.patients):
        pid, eid = patient_id0 + i, episode_id0 + i
        st = min(bisect.bisect_left(cum, rng.random()), len(stations) - 1)
        station = stations[st]
        ward_code, ward_name = rng.choice(station_wards[st])
        male = rng.random() < 0.5
        name = " ".join(
            (
                rng.choice(SURNAMES),
                rng.choice(MIDDLE_M if male else MIDDLE_F),
                rng.choice(GIVEN_M if male else GIVEN_F),
            )
        )
        r = rng.random()
        age_days = rng.randint(400, 11 * 365) if r < 0.12 else rng.randint(18 * 365, 85 * 365)
        dob = today - timedelta(days=age_days)
        child = age_days < 12 * 365
        phone = f"+849{10_000_000 + i:08d}"
        account_id = None
        if i < args.accounts or args.full:  # --full: every accepted registration issued an account
            account_id = user_id0 + i
            users_ins.add(
                (account_id, password_hash, 0, f"bench{i:06d}", "", "", "", 0, 1, created, 0, phone)
            )
        if i < args.accounts:
            raw = secrets.token_urlsafe(32)
            tokens_ins.add((hash_token(raw), raw[:8], created, None, expires, account_id))
            token_lines.append(raw)
        street = f"Số {rng.randint(1, 300)} {rng.choice(STREETS)}"
        patients_ins.add(
            (
                pid,
                str(uuid.uuid4()),
                created,
                created,
                name,
                dob,
                "male" if male else "female",
                phone,
                "",
                "",
                31,
                ward_code,
                ward_name,
                street,
                station.pk,
                account_id,
                created,
                "",  # no number proved by OTP: the bench's accounts act for their own record only
            )
        )
        start = today - timedelta(days=args.days + rng.randint(0, 2))
        people.append((eid, pid, account_id, st, start, rng.choice((97, 98, 98, 99)), child))
        if args.full:
            persons.append((registration_id0 + i, name, dob, male, phone, ward_code, ward_name, street))
    users_ins.flush()
    tokens_ins.flush()
    patients_ins.flush()
    connection.commit() if not connection.get_autocommit() else None
    step(f"{patients_ins.count} patients, {users_ins.count} patient accounts, {tokens_ins.count} API tokens")

    # --- Declarations, alerts, reminders (day by day), then the episodes with their denormalized state -
    decl_ins = Inserter(
        cur,
        "monitoring_declaration",
        [
            "id",
            "public_id",
            "submitted_at",
            "local_date",
            "late",
            "answers",
            "temperature",
            "spo2",
            "breathing_rate",
            "pulse",
            "alert_level",
            "reasons",
            "idempotency_key",
            "request_hash",
            "patient_id",
            "submitted_by_id",
            "episode_id",
            "questionnaire_id",
        ],
    )
    alert_ins = Inserter(
        cur,
        "monitoring_alert",
        [
            "level",
            "reasons",
            "created_at",
            "acknowledged_at",
            "outcome",
            "note",
            "acknowledged_by_id",
            "facility_id",
            "declaration_id",
            "episode_id",
            # The alert's copy of its declaration's public id and answers (monitoring.Alert's note).
            "declaration_public_id",
            "declaration_answers",
        ],
    )
    remind_ins = Inserter(
        cur, "monitoring_reminderlog", ["local_date", "kind", "created_at", "call_note", "episode_id"]
    )
    staff_of = {s.pk: u.pk for u, s, role in staff if role == Role.STATION_STAFF}
    last_declared: dict[int, date] = {}
    last_count: dict[int, int] = {}
    last_level: dict[int, str] = {}
    silent_days: dict[int, int] = {}
    decl_id = decl_id0
    yesterday = today - timedelta(days=1)
    for back in range(args.days, 0, -1):
        day = today - timedelta(days=back)
        at_local = datetime(day.year, day.month, day.day, tzinfo=VN)
        for eid, pid, account_id, st, start, base_spo2, child in people:
            if start > day:
                continue
            station_pk = stations[st].pk
            r = rng.random()
            count = 0 if r < 0.05 else (2 if r > 0.95 else 1)
            first_minutes = None
            for n in range(count):
                hour, minute = submit_time(rng) if n == 0 else (rng.randint(13, 21), rng.randint(0, 59))
                if n == 0:
                    first_minutes = hour * 60 + minute
                at = at_local.replace(hour=hour, minute=minute, second=rng.randint(0, 59))
                temp, spo2, rr, pulse, symptoms = vitals(rng, base_spo2, child)
                level, reasons = triage(temp, spo2, rr, pulse, symptoms, child)
                answers = {
                    "temperature": str(temp),
                    "spo2": str(spo2),
                    "breathing_rate": str(rr),
                    "pulse": str(pulse),
                    "symptoms": symptoms,
                }
                reasons_json = json.dumps(reasons, ensure_ascii=False)
                # As monitoring.services._request_hash: the answers as stored, keys sorted, compact.
                canonical = json.dumps(
                    {**answers, "symptoms": sorted(symptoms)}, sort_keys=True, separators=(",", ":")
                )
                public_id = str(uuid.uuid4())
                answers_json = json.dumps(answers)
                decl_ins.add(
                    (
                        decl_id,
                        public_id,
                        fmt(at),
                        day,
                        int(hour >= 10 and (hour, minute) > (10, 0)),
                        answers_json,
                        temp,
                        spo2,
                        rr,
                        pulse,
                        level,
                        reasons_json,
                        uuid.uuid4().hex,
                        hashlib.sha256(canonical.encode()).hexdigest(),
                        pid,
                        account_id,
                        eid,
                        version.pk,
                    )
                )
                if level != "none":
                    open_ = day == yesterday and rng.random() < 0.3
                    ack_at = None if open_ else fmt(at + timedelta(minutes=rng.randint(5, 240)))
                    alert_ins.add(
                        (
                            level,
                            reasons_json,
                            fmt(at),
                            ack_at,
                            "" if open_ else "stable",
                            "",
                            None if open_ else staff_of[station_pk],
                            station_pk,
                            decl_id,
                            eid,
                            public_id,
                            answers_json,
                        )
                    )
                decl_id += 1
                last_level[eid] = level
            if count:
                last_declared[eid] = day
                last_count[eid] = count
                silent_days[eid] = 0
            else:
                silent_days[eid] = silent_days.get(eid, 0) + 1
            reminder_at = fmt(at_local.replace(hour=8))
            if first_minutes is None or first_minutes >= 8 * 60:
                remind_ins.add((day, "sms_1", reminder_at, "", eid))
            if first_minutes is None or first_minutes >= 9 * 60 + 30:
                remind_ins.add((day, "sms_2", reminder_at, "", eid))
            if first_minutes is None or first_minutes >= 10 * 60:
                remind_ins.add((day, "call_list", reminder_at, "", eid))
            if silent_days.get(eid, 0) >= 2:
                remind_ins.add((day, "escalation", reminder_at, "", eid))
        decl_ins.flush()
        alert_ins.flush()
        remind_ins.flush()
        step(
            f"day {day:%d/%m/%Y}: {decl_ins.count} declarations, {alert_ins.count} alerts, "
            f"{remind_ins.count} reminder logs so far"
        )

    for eid, pid, _account, st, start, _spo2, _child in people:
        episodes_ins.add(
            (
                eid,
                str(uuid.uuid4()),
                created,
                created,
                "active",
                start,
                start + timedelta(days=7),
                last_declared.get(eid),
                last_count.get(eid, 0),
                last_level.get(eid, "none"),
                "",
                "",
                "",
                stations[st].pk,
                pid,
                registration_id0 + (pid - patient_id0) if args.full else None,
            )
        )
    episodes_ins.flush()
    step(f"{episodes_ins.count} active episodes")
    full_counts: dict[str, int] = {}
    if args.full:
        full_counts = generate_full(
            cursor=cur,
            rng=rng,
            today=today,
            now=now,
            created=created,
            password_hash=password_hash,
            doh=doh,
            centres=centres,
            stations=stations,
            station_wards=station_wards,
            staff=staff,
            people=people,
            persons=persons,
            accounts=args.accounts,
            tokens=token_lines,
            questionnaire_id=version.pk,
            step=step,
            out=args.out,
        )
    cur.execute("SET SESSION foreign_key_checks=1, unique_checks=1")
    cur.execute(
        "ANALYZE TABLE monitoring_episode, monitoring_declaration, monitoring_alert, "
        "monitoring_reminderlog, patients_patient"
        + ("".join(f", {t}" for t in ANALYZE_TABLES) if args.full else "")
    )
    cur.fetchall()
    step("tables analyzed")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tokens.txt").write_text("\n".join(token_lines) + "\n")
    sizes = {}
    for s in stations:
        sizes[s.code] = 0
    for _, _, _, st, _, _, _ in people:
        sizes[stations[st].code] += 1
    manifest = {
        "database": db_name,
        "generated_on": today.isoformat(),
        "patients": args.patients,
        "days": args.days,
        "stations": len(stations),
        "declarations": decl_ins.count,
        "alerts": alert_ins.count,
        "reminder_logs": remind_ins.count,
        "accounts": users_ins.count,
        "station_sizes": sizes,
        **full_counts,
        "seconds": round(time.monotonic() - started, 1),
    }
    (args.out / f"manifest-{db_name}.json").write_text(json.dumps(manifest, indent=1))
    big = max(sizes, key=lambda code: sizes[code])
    step(f"done: largest station {big} ({sizes[big]} patients), tokens in {args.out / 'tokens.txt'}")


def generate_full(*, people: list[Any], persons: list[Any], **kwargs: Any) -> dict[str, int]:
    """--full: the rest of the issue-11 data set on top of what main() wrote (bench/_generate_full.py)."""
    import _generate_full as full

    ctx = full.Context(
        people=[
            full.Person(
                patient_id=pid,
                episode_id=eid,
                registration_id=reg_id,
                account_id=account_id,
                station=st,
                name=name,
                dob=dob,
                male=male,
                phone=phone,
                ward_code=ward_code,
                ward_name=ward_name,
                street=street,
                start=start,
            )
            for (eid, pid, account_id, st, start, _spo2, _child), (
                reg_id,
                name,
                dob,
                male,
                phone,
                ward_code,
                ward_name,
                street,
            ) in zip(people, persons, strict=True)
        ],
        vitals=vitals,
        triage=triage,
        **kwargs,
    )
    full.build(ctx)
    return ctx.counts


if __name__ == "__main__":
    main()
