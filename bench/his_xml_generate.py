"""Write a QĐ 4750/3176 XML batch for the HIS import benchmark, streaming (constant memory):

    .venv/bin/python bench/his_xml_generate.py --visits 50000 --labs-per-visit 4 --patients 5000 out.xml

Each HOSO holds XML1 (visit) and XML4 (lab results); patient i has HIS code BNxxxxxxx (MA_BN) and the
benchmark links those codes before importing."""

from __future__ import annotations

import argparse
import random
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from health_f0.his.adapters import xml_4750 as x  # noqa: E402

TESTS = [
    ("GLU", "Glucose máu", "mmol/L", "3.9 - 6.4", 3.0, 12.0),
    ("CRE", "Creatinin", "µmol/L", "62 - 106", 40, 180),
    ("HBA1C", "HbA1c", "%", "4 - 6.4", 4.0, 11.0),
    ("ALT", "ALT (GPT)", "U/L", "< 40", 8, 120),
    ("CHOL", "Cholesterol toàn phần", "mmol/L", "3.9 - 5.2", 3.0, 8.0),
]
DIAGNOSES = [
    ("E11", "Đái tháo đường type 2"),
    ("I10", "Tăng huyết áp vô căn"),
    ("J18.9", "Viêm phổi"),
    ("U07.1", "COVID-19"),
]


def his_code(n: int) -> str:
    return f"BN{n:07d}"


def generate(path: Path, *, visits: int, labs: int, patients: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, 7, 0)
    with path.open("w", encoding="utf-8") as out:
        out.write(x.envelope_head("31001", visits, date(2026, 11, 1)))
        for n in range(visits):
            ma_lk = f"LK{n:09d}"
            when = start + timedelta(minutes=7 * n)
            icd, text = rng.choice(DIAGNOSES)
            visit = {
                "MA_LK": ma_lk,
                "STT": 1,
                "MA_BN": his_code(n % patients),
                "HO_TEN": "Nguyễn Văn Bệnh Nhân",
                "NGAY_SINH": "196805020000",
                "GIOI_TINH": 1,
                "MA_THE_BHYT": f"HS431{n % patients:010d}",
                "CHAN_DOAN_RV": text,
                "MA_BENH_CHINH": icd,
                "MA_KHOA": rng.choice(["K01", "K02", "K03"]),
                "NGAY_VAO": f"{when:%Y%m%d%H%M}",
                "NGAY_RA": f"{when + timedelta(hours=2):%Y%m%d%H%M}",
            }
            rows = []
            for k in range(labs):
                code, name, unit, ref, low, high = TESTS[k % len(TESTS)]
                rows.append(
                    {
                        "MA_LK": ma_lk,
                        "STT": k + 1,
                        "MA_DICH_VU": "23.0075.1494",
                        "MA_CHI_SO": code,
                        "TEN_CHI_SO": name,
                        "GIA_TRI": f"{rng.uniform(low, high):.1f}",
                        "DON_VI_DO": unit,
                        "MO_TA": ref,
                        "KET_LUAN": "",
                        "NGAY_KQ": f"{when + timedelta(hours=1):%Y%m%d%H%M}",
                    }
                )
            out.write(
                x.hoso_xml([("XML1", x.table_xml("XML1", [visit])), ("XML4", x.table_xml("XML4", rows))])
            )
            out.write("\n")
        out.write(x.ENVELOPE_TAIL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--visits", type=int, default=50_000)
    parser.add_argument("--labs-per-visit", type=int, default=4)
    parser.add_argument("--patients", type=int, default=5_000)
    args = parser.parse_args()
    generate(Path(args.path), visits=args.visits, labs=args.labs_per_visit, patients=args.patients)


if __name__ == "__main__":
    main()
