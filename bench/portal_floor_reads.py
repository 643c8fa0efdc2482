"""The reads under every signed-in portal page (issue 11), each alone: this process's CPU per call of the ORM
read it replaced and of the constant statement that now makes it, on the bench data's patient accounts.

    DATABASE_URL=mysql://…/hf0_bench100k REDIS_URL=redis://127.0.0.1:6379/14 CACHE_PREFIX=hf0bench \\
        HUEY_NAME=hf0bench ALLOWED_HOSTS=testserver,127.0.0.1 .venv/bin/python bench/portal_floor_reads.py \\
        [--tokens bench/out/patient_tokens_all.txt] [--calls 600]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import OUT, setup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", default=str(OUT / "patient_tokens_all.txt"))
    parser.add_argument("--accounts", type=int, default=60)
    parser.add_argument("--calls", type=int, default=600)
    args = parser.parse_args()
    setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.backends import ModelBackend
    from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
    from django.test import Client
    from portal_lists import accounts

    from health_f0.accounts import sql as accounts_sql
    from health_f0.facilities import access
    from health_f0.monitoring.models import Episode, EpisodeStatus
    from health_f0.monitoring.sql import episodes as episodes_sql
    from health_f0.monitoring.sql import patients as patients_sql
    from health_f0.notifications.models import ContactPreference
    from health_f0.notifications.selectors import contact_channel

    users = accounts(Path(args.tokens), args.accounts)
    n = len(users)
    user_model = get_user_model()
    client = Client()
    keys = []
    for user in users:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        keys.append(client.session.session_key)
    fresh = [user_model.objects.get(pk=user.pk) for user in users]
    for user in fresh:
        access.is_staff_member(user)  # as in a request: the memberships already read
    patients = []
    for user in fresh:
        own = patients_sql.account_patients(user) or []
        patients.append(next(p for p in own if p.account_id == user.pk) if own else None)
    patients = [p for p in patients if p is not None]

    def measure(name: str, call: Callable[[int], Any], over: int) -> None:
        for i in range(over):
            call(i)
        cpu0 = time.process_time()
        for i in range(args.calls):
            call(i % over)
        print(f"{name:44} {(time.process_time() - cpu0) * 1000 / args.calls:6.3f} ms CPU", flush=True)

    def orm_patients(i: int) -> None:
        list(access.patients_for(fresh[i]).select_related("facility").order_by("full_name", "id"))

    def orm_current(i: int) -> None:
        episodes = Episode.objects.select_related("facility").filter(patient=patients[i])
        active = episodes.filter(status=EpisodeStatus.ACTIVE).order_by("-start_date", "-id").first()
        episode = active or episodes.order_by("-start_date", "-id").first()
        if episode is not None:
            episode.declarations.order_by("-submitted_at", "-id").first()

    def orm_user(i: int) -> None:
        access.is_staff_member(ModelBackend().get_user(users[i].pk))

    def sql_user(i: int) -> None:
        access.is_staff_member(accounts_sql.user_with_staff_flag(users[i].pk))

    def orm_channel(i: int) -> None:
        ContactPreference.objects.filter(phone=patients[i].phone).values_list("channel", flat=True).first()

    measure("patients of the account: ORM", orm_patients, n)
    measure("patients of the account: constant SQL", lambda i: patients_sql.account_patients(fresh[i]), n)
    m = len(patients)
    measure("current episode + latest declaration: ORM", orm_current, m)
    measure(
        "current episode + latest declaration: constant SQL",
        lambda i: episodes_sql.current_of_patient(patients[i].pk),
        m,
    )
    measure("contact channel: ORM", orm_channel, m)
    measure("contact channel: constant SQL", lambda i: contact_channel(phone=patients[i].phone), m)
    measure("session row: Django's db store", lambda i: DjangoSessionStore(keys[i]).load(), n)
    measure("session row: constant SQL", lambda i: accounts_sql.SessionStore(keys[i]).load(), n)
    measure("user + memberships: ORM + their statement", orm_user, n)
    measure("user + staff flag: constant SQL", sql_user, n)


if __name__ == "__main__":
    main()
