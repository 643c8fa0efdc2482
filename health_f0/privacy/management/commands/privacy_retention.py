"""Run the retention jobs now (the worker runs them every night): `manage.py privacy_retention [--kind otp]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from health_f0.privacy import retention


class Command(BaseCommand):
    help = "Xoá dữ liệu đã hết thời hạn lưu giữ (mỗi loại một lượt chạy, có nhật ký)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--kind", action="append", choices=[job.kind for job in retention.JOBS], help="chỉ loại này"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for run in retention.retention_run_all(kinds=options.get("kind")):
            counts = ", ".join(f"{k}={v}" for k, v in run.counts.items()) or "0"
            self.stdout.write(f"{run.kind}: {counts}{' ERROR ' + run.error if run.error else ''}")
