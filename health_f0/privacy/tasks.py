"""Background jobs: the nightly retention sweep (every kind in retention.JOBS, one run row and one audit row
each) and the building of a patient's PDF copy."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from health_f0.privacy import exports, retention


@db_periodic_task(crontab(hour="19", minute="30"))  # 02:30 in Vietnam (Huey runs in UTC)
@lock_task("privacy-retention")
def retention_sweep() -> int:
    return len(retention.retention_run_all())


@db_task(retries=1, retry_delay=30)
def build_export(export_id: int) -> None:
    exports.export_pdf_build(export_id=export_id)
