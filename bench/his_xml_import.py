"""HIS XML import benchmark: generate a batch, link its patients, import it, report wall time and memory.

    DATABASE_URL=mysql://…/hf0_bench_his .venv/bin/python bench/his_xml_import.py --visits 50000

Each size in --sizes runs twice, each time in a fresh child process (so one size's peak does not hide the
next): once for the wall time (nothing else measured), once under tracemalloc for the Python side's peak
(tracemalloc slows Python down two to three times, so its run is not timed). ru_maxrss is the process peak
of each run. Memory must not grow with the file. Writes bench/out/his_xml_import.json."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _django  # noqa: E402


def one(visits: int, labs: int, patients: int, trace: bool) -> dict[str, object]:
    _django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from bench.his_xml_generate import generate, his_code
    from health_f0.facilities.models import Facility
    from health_f0.his.imports import xml_import
    from health_f0.his.models import HisLabResult, HisLink, HisVisit, HisVisitSeen, ImportRun
    from health_f0.patients.models import Patient

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    ttyt = Facility.objects.get(code="TTYT-HD")
    station = Facility.objects.get(code="TYT-10510")
    HisLabResult.objects.filter(facility=ttyt).delete()
    HisVisit.objects.filter(facility=ttyt).delete()
    HisVisitSeen.objects.filter(facility=ttyt).delete()
    ImportRun.objects.filter(facility=ttyt).delete()
    if HisLink.objects.filter(facility=ttyt, his_code__startswith="BN").count() < patients:
        HisLink.objects.filter(facility=ttyt).delete()
        made = Patient.objects.bulk_create(
            [
                Patient(
                    full_name="Nguyễn Văn Bệnh Nhân",
                    date_of_birth="1968-05-02",
                    sex="male",
                    phone=f"+849{n:08d}",
                    province_code=31,
                    ward_code=10510,
                    facility=station,
                )
                for n in range(patients)
            ],
            batch_size=1000,
        )
        HisLink.objects.bulk_create(
            [
                HisLink(
                    patient=p,
                    facility=ttyt,
                    his_patient_id=his_code(n),
                    his_code=his_code(n),
                    linked_at=timezone.now(),
                )
                for n, p in enumerate(made)
            ],
            batch_size=1000,
        )
    path = _django.OUT / f"his_xml_{visits}.xml"
    generate(path, visits=visits, labs=labs, patients=patients)
    size = path.stat().st_size
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    with path.open("rb") as stream:
        run = xml_import(facility=ttyt, stream=stream, file_name=path.name, size=size)
    wall = time.perf_counter() - started
    measured: dict[str, object] = {}
    if trace:
        measured["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    else:
        measured.update(wall_s=round(wall, 1), visits_per_s=round(visits / wall))
    path.unlink()
    return {
        "visits": visits,
        "lab_results": visits * labs,
        "file_mb": round(size / 2**20, 1),
        "status": run.status,
        "imported": run.imported_count,
        "rejected": run.rejected_count,
        **measured,
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load": _django.load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--labs-per-visit", type=int, default=4)
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.labs_per_visit, args.patients, args.trace)))
        return
    results = []
    for size, trace in [(int(s), t) for s in args.sizes.split(",") for t in (False, True)]:
        out = (
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    str(size),
                    "--labs-per-visit",
                    str(args.labs_per_visit),
                    "--patients",
                    str(args.patients),
                    *(["--trace"] if trace else []),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        results.append(json.loads(out))
        print(json.dumps(results[-1], ensure_ascii=False))
    _django.setup()
    (_django.OUT / "his_xml_import.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
