"""Insurance XML import (QĐ 4750/3176 envelope; XML1, XML4, XML14) from files built like a HIS builds them."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from health_f0.his import imports
from health_f0.his.adapters import xml_4750 as x
from health_f0.his.models import HisLabResult, HisLink, HisReexamSlip, HisVisit, HisVisitSeen
from health_f0.his.tests.conftest import make_patient, unique_bhyt

pytestmark = pytest.mark.django_db


def xml1(ma_lk, *, ma_bn="BN001", card="", cccd="", ngay_vao="202611020815", **extra):
    row = {
        "MA_LK": ma_lk,
        "STT": 1,
        "MA_BN": ma_bn,
        "HO_TEN": "Trần Thị Bích Ngọc",
        "SO_CCCD": cccd,
        "NGAY_SINH": "197503140000",
        "GIOI_TINH": 2,
        "MA_THE_BHYT": card,
        "CHAN_DOAN_RV": "Đái tháo đường type 2",
        "MA_BENH_CHINH": "E11",
        "MA_KHOA": "K01",
        "NGAY_VAO": ngay_vao,
        "NGAY_RA": "202611021130",
    }
    row.update(extra)
    return ("XML1", x.table_xml("XML1", [row]))


def xml4(ma_lk, rows):
    return (
        "XML4",
        x.table_xml(
            "XML4",
            [
                {
                    "MA_LK": ma_lk,
                    "STT": n,
                    "MA_DICH_VU": "23.0075.1494",
                    "MA_CHI_SO": code,
                    "TEN_CHI_SO": name,
                    "GIA_TRI": value,
                    "DON_VI_DO": unit,
                    "MO_TA": ref,
                    "KET_LUAN": "",
                    "NGAY_KQ": "202611020930",
                }
                for n, (code, name, value, unit, ref) in enumerate(rows, 1)
            ],
        ),
    )


def xml14(ma_lk, day, dept="KNOI"):
    return (
        "XML14",
        x.table_xml(
            "XML14",
            [
                {
                    "MA_LK": ma_lk,
                    "SO_GIAYHEN_KL": f"GH{ma_lk}",
                    "MA_CSKCB": "31001",
                    "HO_TEN": "Trần Thị Bích Ngọc",
                    "NGAY_HEN_KL": f"{day:%Y%m%d}",
                    "MA_KHOA": dept,
                    "CHAN_DOAN_RV": "Đái tháo đường type 2",
                }
            ],
        ),
    )


def envelope(hosos):
    body = "".join(x.hoso_xml(tables) for tables in hosos)
    return (x.envelope_head("31001", len(hosos), date(2026, 11, 3)) + body + x.ENVELOPE_TAIL).encode()


LABS = [
    ("GLU", "Glucose", "7,8", "mmol/L", "3.9 - 6.4"),
    ("CRE", "Creatinin", "88", "µmol/L", "62 - 106"),
    ("HBA1C", "HbA1c", "5.1", "%", "< 6.5"),
    ("HBSAG", "HBsAg", "Âm tính", "", ""),
]


@pytest.fixture
def linked(ttyt):
    patient = make_patient()
    card = unique_bhyt()
    HisLink.objects.create(
        patient=patient,
        facility=ttyt,
        his_patient_id="BN001",
        his_code="BN001",
        bhyt_key=card,
        identifiers={"his_code": "BN001", "bhyt": card},
        linked_at=timezone.now(),
    )
    return patient, card


def run(ttyt, data, name="GD_202611.xml"):
    return imports.xml_import(facility=ttyt, stream=io.BytesIO(data), file_name=name, size=len(data))


def test_good_file_imports_visits_results_and_flags(ttyt, linked):
    patient, card = linked
    data = envelope(
        [
            [xml1("LK001"), xml4("LK001", LABS)],
            [
                xml1("LK002", ma_bn="OTHER", card=f"HS431{card}"),
                xml4("LK002", LABS[:1]),
            ],  # matched by the card
        ]
    )
    result = run(ttyt, data)
    assert (result.status, result.read_count, result.imported_count, result.rejected_count) == (
        "done",
        2,
        2,
        0,
    )
    visit = HisVisit.objects.get(external_id="LK001")
    assert visit.patient == patient and visit.icd10 == "E11" and visit.department_code == "K01"
    assert timezone.localtime(visit.admitted_at).strftime("%d/%m/%Y %H:%M") == "02/11/2026 08:15"
    flags = dict(HisLabResult.objects.filter(visit=visit).values_list("code", "flag"))
    assert flags == {"GLU": "H", "CRE": "N", "HBA1C": "N", "HBSAG": ""}
    assert HisLabResult.objects.get(visit=visit, code="GLU").reference_high == Decimal("6.4")
    assert HisVisit.objects.get(external_id="LK002").patient == patient
    assert result.progress_done == len(data)


def test_duplicate_ma_lk_within_and_across_files(ttyt, linked):
    data = envelope([[xml1("LK010"), xml4("LK010", LABS)], [xml1("LK010"), xml4("LK010", LABS)]])
    first = run(ttyt, data)
    assert (first.imported_count, first.duplicate_count) == (1, 1)
    second = run(ttyt, data, "again.xml")
    assert (second.imported_count, second.duplicate_count) == (0, 2)
    assert HisVisit.objects.filter(external_id="LK010").count() == 1
    assert HisLabResult.objects.filter(visit_ref="LK010").count() == 4


def test_unknown_patient_is_rejected_but_counted_for_the_share(ttyt, linked):
    result = run(ttyt, envelope([[xml1("LK020", ma_bn="BN999", card="HS4319999999999")]]))
    assert result.rejected_count == 1 and result.imported_count == 0
    assert result.errors[0]["record"] == "LK020"
    assert result.errors[0]["reason"] == "không tìm thấy người bệnh đã liên kết"
    assert not HisVisit.objects.filter(external_id="LK020").exists()
    assert HisVisitSeen.objects.filter(external_id="LK020", linked=False).exists()


def test_malformed_records_are_rejected_with_reasons(ttyt, linked):
    data = envelope(
        [
            [xml1("")],  # missing MA_LK
            [xml1("LK031", ngay_vao="2026-11-02")],  # bad date
            [xml1("LK032", MA_BENH_CHINH="DTD2")],  # not ICD-10
            [xml1("LK033"), xml4("LK999", LABS[:1])],  # result of another visit
            [("XML1", b"not base64 !!")],
            [xml1("LK034")],  # good
        ]
    )
    data = data.replace(b"<NOIDUNGFILE>bm90", b"<NOIDUNGFILE>%%%bm90")  # and one that is not base64 at all
    result = run(ttyt, data)
    assert result.status == "done" and result.imported_count == 1 and result.rejected_count == 5
    reasons = " | ".join(e["reason"] for e in result.errors)
    assert "Thiếu MA_LK" in reasons and "NGAY_VAO không đúng định dạng" in reasons
    assert "ICD-10" in reasons and "khác hồ sơ" in reasons and "base64" in reasons


def test_broken_xml_fails_the_run_keeping_earlier_records(ttyt, linked):
    good = envelope([[xml1("LK040")]])
    broken = good.replace(x.ENVELOPE_TAIL.encode(), b"<HOSO><FILEHOSO><LOAIHOSO>XML1</LOAI")
    result = run(ttyt, broken)
    assert result.status == "failed" and "không đúng cấu trúc" in result.failure
    assert HisVisit.objects.filter(external_id="LK040").exists()
    wrong_root = run(ttyt, b"<?xml version='1.0'?><KHAC/>")
    assert wrong_root.status == "failed" and "GIAMDINHHS" in wrong_root.failure


def test_reexam_slip_books_an_appointment_with_reminders(ttyt, linked):
    from health_f0.appointments.models import AppointmentReminder
    from health_f0.appointments.tests.conftest import make_service
    from health_f0.facilities.models import Facility

    make_service(Facility.objects.get(code="PK-NOI1"), code="knoi", booking_horizon_days=120)
    day = timezone.localdate() + timedelta(days=14)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    result = run(
        ttyt,
        envelope(
            [
                [xml1("LK050"), xml14("LK050", day, dept="KNOI")],
                [xml1("LK051"), xml14("LK051", day, dept="KXX")],
            ]
        ),
    )
    assert result.imported_count == 2
    booked = HisReexamSlip.objects.get(external_id="LK050:GHLK050")
    assert booked.status == "booked" and booked.appointment.is_reexam
    assert timezone.localtime(booked.appointment.slot_start).date() == day
    assert AppointmentReminder.objects.filter(appointment=booked.appointment).exists()
    waiting = HisReexamSlip.objects.get(external_id="LK051:GHLK051")
    assert waiting.status == "needs_desk" and "KXX" in waiting.status_note


def test_watched_folder_moves_files(ttyt, linked, tmp_path, settings):
    from health_f0.his import tasks

    folder = tmp_path / "watch" / "TTYT-HD"
    folder.mkdir(parents=True)
    (folder / "a.xml").write_bytes(envelope([[xml1("LK060")]]))
    (folder / "b.xml").write_bytes(b"<GIAMDINHHS><THONG")
    settings.HIS_XML_WATCH_DIR = str(tmp_path / "watch")
    runs = tasks.scan_watch_dir()
    assert len(runs) == 2
    assert (folder / "done" / "a.xml").exists() and (folder / "failed" / "b.xml").exists()
    assert HisVisit.objects.filter(external_id="LK060").exists()


def test_an_unexpected_error_fails_the_run_instead_of_leaving_it_running(ttyt, linked, monkeypatch, caplog):
    """A bug or a lost database mid-file: the run is closed as failed (never stuck "running"), the chunks
    already written stay, and importing the file again finishes the rest without duplicates."""
    monkeypatch.setattr(imports, "XML_CHUNK", 1)
    data = envelope([[xml1("LK070"), xml4("LK070", LABS)], [xml1("LK071"), xml4("LK071", LABS)]])
    real = imports._import_chunk
    calls = {"n": 0}

    def flaky(facility, chunk, run_, counts):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("connection lost")
        return real(facility, chunk, run_, counts)

    monkeypatch.setattr(imports, "_import_chunk", flaky)
    crashed = run(ttyt, data)
    crashed.refresh_from_db()
    assert crashed.status == "failed" and crashed.finished_at is not None
    assert "RuntimeError" in crashed.failure and "connection lost" not in crashed.failure
    assert crashed.imported_count == 1 and "crashed" in caplog.text
    monkeypatch.setattr(imports, "_import_chunk", real)
    again = run(ttyt, data, "again.xml")
    assert again.status == "done" and (again.imported_count, again.duplicate_count) == (1, 1)
    assert HisLabResult.objects.filter(visit_ref__in=["LK070", "LK071"]).count() == 8
