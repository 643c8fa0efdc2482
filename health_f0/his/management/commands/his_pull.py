"""Run the HIS jobs once now: manage.py his_pull (FHIR pull of every facility with links, then the XML folder)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from health_f0.his import tasks


class Command(BaseCommand):
    help = "Đồng bộ dữ liệu HIS ngay: lấy dữ liệu FHIR mới và nhập các tệp XML trong thư mục theo dõi."

    def handle(self, *args: Any, **options: Any) -> None:
        pulled = tasks.his_fhir_pull.call_local()
        scanned = len(tasks.scan_watch_dir())
        self.stdout.write(f"FHIR: {pulled} lượt; XML: {scanned} tệp")
