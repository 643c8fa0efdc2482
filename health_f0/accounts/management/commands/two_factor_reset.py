"""Turn a staff member's two-factor authentication off when they lost both the phone and the recovery codes.

    manage.py two_factor_reset <username> --reason "Mất điện thoại, đã xác minh qua trưởng khoa"

The reset is an audit row (actor: the system, with the reason). An administrator or manager then enrols
again at their next desk login; other staff log in with the password alone until they turn it on again.
Confirm who is asking (in person, by a call to a known number) before running it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from health_f0.accounts.two_factor import two_factor_remove
from health_f0.core.exceptions import DomainError


class Command(BaseCommand):
    help = "Turn two-factor authentication off for one user (lost phone and recovery codes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--reason", required=True, help="Why, for the audit log.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        try:
            two_factor_remove(user=user, actor=None, reason=options["reason"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Two-factor authentication is off for {user.get_username()}.")
