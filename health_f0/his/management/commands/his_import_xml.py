"""Import a QĐ 4750/3176 XML file for a facility: manage.py his_import_xml TTYT-HD path/to/file.xml"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from health_f0.facilities.models import Facility
from health_f0.his.imports import xml_import


class Command(BaseCommand):
    help = "Nhập tệp XML giám định BHYT (QĐ 4750/3176: XML1, XML4, XML14) cho một bệnh viện/TTYT."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("facility_code")
        parser.add_argument("path")

    def handle(self, *args: Any, **options: Any) -> None:
        facility = Facility.objects.filter(code=options["facility_code"]).first()
        if facility is None:
            raise CommandError(f"Không có cơ sở mã {options['facility_code']}.")
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"Không có tệp {path}.")
        with path.open("rb") as stream:
            run = xml_import(facility=facility, stream=stream, file_name=path.name, size=path.stat().st_size)
        self.stdout.write(
            f"{run.get_status_display()}: đọc {run.read_count}, nhập {run.imported_count}, "
            f"trùng {run.duplicate_count}, từ chối {run.rejected_count}"
        )
        for error in run.errors[:20]:
            self.stdout.write(f"  {error['record']} {error['table']}: {error['reason']}")
