"""The monitoring desk: today's board, alert handling, the silent and call list, episodes (complete, close,
certificate), and the managers' configuration. Demo personas; every write goes through a service."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.monitoring.models import (
    Alert,
    Episode,
    GuidanceDocument,
    ProvincePolicy,
    QuestionnaireVersion,
    ReminderLog,
    TriageRule,
)
from health_f0.monitoring.services import active_questionnaire, declaration_submit, reset_caches
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db

BOARD = "/desk/monitoring/episode/board/"
SILENT = "/desk/monitoring/episode/chua-khai-bao/"


@pytest.fixture(autouse=True)
def _fresh_caches() -> Any:
    reset_caches()
    yield
    reset_caches()


def station(code: str = "TYT-10510") -> Facility:
    return Facility.objects.get(code=code)


def demo_episode() -> Episode:
    return Episode.objects.select_related("patient").get(patient__account__username="bn0000001")


def add_episodes(
    count: int, *, code: str = "TYT-10510", ward_code: int = 10510, start: int = 0
) -> list[Episode]:
    """`count` more active home-care episodes at a station, started 2 days ago."""
    facility = station(code)
    today = timezone.localdate()
    Patient.objects.bulk_create(
        [
            Patient(
                full_name=f"Người Theo Dõi {start + i:03d}",
                date_of_birth=date(1940 + (start + i) * 7 % 80, 1, 1),
                sex="female",
                phone=f"+84977{500000 + start + i:06d}",
                province_code=31,
                ward_code=ward_code,
                ward_name="Thành Đông",
                facility=facility,
            )
            for i in range(count)
        ]
    )
    patients = sorted(
        Patient.objects.filter(full_name__startswith="Người Theo Dõi").order_by("-id")[:count],
        key=lambda p: p.pk,
    )
    return Episode.objects.bulk_create(
        [
            Episode(
                patient=p,
                facility=facility,
                start_date=today - timedelta(days=2),
                expected_end_date=today + timedelta(days=5),
            )
            for p in patients
        ]
    )


def declare(patient: Patient, key: str, **answers: Any) -> Any:
    declaration, _created = declaration_submit(
        patient=patient, actor=patient.account, answers=answers, idempotency_key=key
    )
    return declaration


# --- The board ------------------------------------------------------------------------------------


def test_board_counts_alerts_and_patients_for_the_station(desk: Any) -> None:
    episode = demo_episode()
    others = add_episodes(3)
    declare(episode.patient, "a", temperature="36.8", spo2="93", symptoms=["shortness_of_breath"])
    declare(others[0].patient, "b", temperature="38.4")
    response = desk("thanhdong.nv").get(BOARD)
    assert response.status_code == 200
    html = response.content.decode()
    summary = response.context["summary"]
    assert (summary.active, summary.declared, summary.silent) == (4, 2, 2)
    assert summary.open_alerts == {"emergency": 1, "urgent": 0, "watch": 1}
    # The open alerts: level, patient, phone as a tel: link, reasons, the handling form.
    assert "Cấp cứu" in html and "Nguyễn Văn Hùng" in html
    assert 'href="tel:+84912345678"' in html and "0912 345 678" in html
    assert "SpO2 93% dưới 94%" in html and "Khó thở" in html
    assert "Đã gọi – ổn định" in html and "Chuyển viện" in html
    # The patients table: every active patient, most worrying first, linked to the episode.
    assert html.index("Nguyễn Văn Hùng") < html.index("Người Theo Dõi 001")
    assert reverse("admin:monitoring_episode_change", args=[episode.pk]) in html
    assert "Đã khai báo" in html and "Chưa khai báo" in html


def test_board_filters(desk: Any) -> None:
    add_episodes(3)
    episode = demo_episode()
    declare(episode.patient, "a", temperature="38.4")
    client = desk("thanhdong.nv")
    rows = client.get(BOARD, {"level": "watch"}).context["rows"]
    assert [r["patient"].full_name for r in rows] == ["Nguyễn Văn Hùng"]
    rows = client.get(BOARD, {"day": 3}).context["rows"]
    assert {r["patient"].full_name for r in rows} == {f"Người Theo Dõi {i:03d}" for i in range(3)}
    rows = client.get(BOARD, {"age_min": 80}).context["rows"]
    assert [r["patient"].full_name for r in rows] == ["Người Theo Dõi 000"]  # born 1940
    rows = client.get(BOARD, {"age_min": 30, "age_max": 45}).context["rows"]
    assert [r["patient"].full_name for r in rows] == ["Nguyễn Văn Hùng"]  # born 1985
    # Nonsense filter values are ignored, never a 500.
    assert client.get(BOARD, {"day": "abc", "level": "nope", "age_min": "-4"}).status_code == 200


def test_another_station_sees_nothing_of_this_one(desk: Any) -> None:
    declare(demo_episode().patient, "a", temperature="38.4")
    client = desk("lethanhnghi.nv")
    html = client.get(BOARD).content.decode()
    assert "Nguyễn Văn Hùng" not in html and "Lê Thanh Nghị" in html
    # Asking for TYT-10510 by id is refused, not answered with its data.
    response = client.get(BOARD, {"facility": station().pk})
    assert response.status_code in (403, 404)
    assert "Nguyễn Văn Hùng" not in response.content.decode()
    assert client.get(SILENT, {"facility": station().pk}).status_code in (403, 404)
    assert client.get(BOARD, {"facility": "x"}).status_code == 404
    # The health-centre manager chooses among its stations.
    manager = desk("ttyt.lanhdao")
    html = manager.get(BOARD, {"facility": station().pk}).content.decode()
    assert "Nguyễn Văn Hùng" in html and "Lê Thanh Nghị" in html  # patient, and the station selector
    assert "Xử lý" not in html.split('id="alerts"')[1].split('id="patients"')[0].replace("xử lý", "")


def test_people_without_a_monitoring_role_cannot_open_the_board(desk: Any) -> None:
    assert desk("datlich").get(BOARD).status_code == 403
    assert desk("bn0000001").get(BOARD).status_code == 302  # patients go to the login page


def test_board_query_count_does_not_grow_with_rows(desk: Any) -> None:
    client = desk("thanhdong.nv")
    first = add_episodes(3)
    declare(first[0].patient, "a", temperature="38.4")
    client.get(BOARD)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(BOARD).context["rows"]) == 4
    more = add_episodes(27, start=3)
    for i, episode in enumerate(more[:5]):
        declare(episode.patient, f"k{i}", temperature="38.5")
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(BOARD).context["rows"]) == 31
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]
    # 19: the alert cards are grouped per patient (issue 9.9), one aggregate query for the group heads.
    assert len(few) <= 19, "\n".join(q["sql"][:150] for q in few.captured_queries)


def test_board_paginates_fifty_a_page(desk: Any) -> None:
    add_episodes(55)
    client = desk("thanhdong.nv")
    assert len(client.get(BOARD).context["rows"]) == 50
    page2 = client.get(BOARD, {"p": 2})
    assert len(page2.context["rows"]) == 6 and "Trang 2/2" in page2.content.decode()


# --- Alerts ---------------------------------------------------------------------------------------


def ack_url(alert: Alert) -> str:
    return reverse("admin:monitoring_alert_acknowledge", args=[alert.pk])


def test_acknowledging_an_alert_records_outcome_time_and_audit(desk: Any, persona: Any) -> None:
    declaration = declare(demo_episode().patient, "a", temperature="36.9", spo2="95")
    alert = Alert.objects.get(declaration=declaration)
    Alert.objects.filter(pk=alert.pk).update(created_at=timezone.now() - timedelta(minutes=25))
    client = desk("thanhdong.nv")
    response = client.post(
        ack_url(alert), {"outcome": "advised", "note": "Dặn nằm sấp, đo lại sau 2 giờ"}, follow=True
    )
    assert response.status_code == 200
    assert "Đã ghi nhận xử lý cảnh báo" in response.content.decode()
    alert.refresh_from_db()
    assert alert.outcome == "advised" and alert.acknowledged_by == persona("thanhdong.nv")
    assert alert.acknowledged_at is not None and alert.note.startswith("Dặn nằm sấp")
    assert AuditLog.objects.filter(verb="acknowledge_alert", target_id=str(alert.pk)).count() == 1
    # No longer on the board; the episode page shows the outcome and the time it took.
    assert response.context["summary"].open_alerts["urgent"] == 0
    html = client.get(reverse("admin:monitoring_episode_change", args=[alert.episode_id])).content.decode()
    assert "Đã tư vấn" in html and "sau 25 phút" in html
    # The alert list shows it too.
    html = client.get("/desk/monitoring/alert/").content.decode()
    assert "sau 25 phút" in html and "Đã tư vấn" in html


def test_acknowledge_needs_an_outcome(desk: Any) -> None:
    alert = Alert.objects.get(declaration=declare(demo_episode().patient, "a", temperature="36.9", spo2="95"))
    response = desk("thanhdong.nv").post(ack_url(alert), {"outcome": ""}, follow=True)
    assert "Vui lòng chọn kết quả xử lý." in response.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_another_station_cannot_acknowledge(desk: Any) -> None:
    alert = Alert.objects.get(declaration=declare(demo_episode().patient, "a", temperature="36.9", spo2="95"))
    response = desk("lethanhnghi.nv").post(ack_url(alert), {"outcome": "stable"})
    assert response.status_code in (403, 404)
    # A manager sees the alert but does not handle it (the station does).
    response = desk("ttyt.lanhdao").post(ack_url(alert), {"outcome": "stable"}, follow=True)
    assert "không có quyền" in response.content.decode()
    assert desk("thanhdong.nv").get(ack_url(alert)).status_code == 405
    alert.refresh_from_db()
    assert alert.acknowledged_at is None and not AuditLog.objects.filter(verb="acknowledge_alert").exists()


# --- Silent list and call list --------------------------------------------------------------------


def test_silent_list_and_recording_a_call(desk: Any, persona: Any) -> None:
    episode = demo_episode()
    declared = add_episodes(2)
    declare(declared[0].patient, "a", temperature="36.6")
    reminder = ReminderLog.objects.create(
        episode=episode, local_date=timezone.localdate(), kind=ReminderLog.Kind.CALL_LIST
    )
    client = desk("thanhdong.nv")
    html = client.get(SILENT).content.decode()
    assert "Nguyễn Văn Hùng" in html and "Người Theo Dõi 001" in html
    assert "Người Theo Dõi 000" not in html  # declared today
    assert 'href="tel:+84912345678"' in html and "0912 345 678" in html
    assert "đã gọi 0/1" in html
    url = reverse("admin:monitoring_record_call", args=[reminder.pk])
    response = client.post(url, {"note": "Không nghe máy, gọi lại 11:00"}, follow=True)
    assert "Đã ghi nhận cuộc gọi" in response.content.decode()
    reminder.refresh_from_db()
    assert reminder.called_at is not None and reminder.called_by == persona("thanhdong.nv")
    assert reminder.call_note == "Không nghe máy, gọi lại 11:00"
    assert AuditLog.objects.filter(verb="record_call", target_id=str(episode.pk)).count() == 1
    assert "đã gọi 1/1" in response.content.decode()
    # Another station cannot record a call on it.
    assert desk("lethanhnghi.nv").post(url, {"note": "x"}).status_code in (403, 404)
    reminder.refresh_from_db()
    assert reminder.call_note == "Không nghe máy, gọi lại 11:00"


def test_escalations_are_shown_to_the_station_head(desk: Any) -> None:
    episode = demo_episode()
    ReminderLog.objects.create(
        episode=episode, local_date=timezone.localdate(), kind=ReminderLog.Kind.ESCALATION
    )
    head = desk("thanhdong.truong").get(SILENT).content.decode()
    assert "Báo trưởng trạm" in head
    assert "Báo trưởng trạm" not in desk("thanhdong.nv").get(SILENT).content.decode()


# --- Episodes -------------------------------------------------------------------------------------


def change_url(episode: Episode) -> str:
    return reverse("admin:monitoring_episode_change", args=[episode.pk])


def action_url(episode: Episode, name: str) -> str:
    return reverse(f"admin:monitoring_episode_{name}", args=[episode.pk])


def test_episode_detail_shows_declarations_and_is_audited(desk: Any, persona: Any) -> None:
    episode = demo_episode()
    declare(episode.patient, "a", temperature="38.6", spo2="97", symptoms=["cough", "chest_pain"])
    before = AuditLog.objects.filter(action="view", target_id=str(episode.pk)).count()
    html = desk("thanhdong.nv").get(change_url(episode)).content.decode()
    assert "Khai báo sức khoẻ" in html and "38,6 °C" in html and "Đau tức ngực kéo dài" in html
    assert "Cấp cứu" in html
    rows = AuditLog.objects.filter(action="view", target_id=str(episode.pk), target_type="monitoring.episode")
    assert rows.count() == before + 1 and rows.latest("id").actor == persona("thanhdong.nv")
    # Another station: not found.
    assert desk("lethanhnghi.nv").get(change_url(episode)).status_code in (302, 404)


def test_complete_too_early_shows_the_service_error(desk: Any) -> None:
    episode = demo_episode()
    Episode.objects.filter(pk=episode.pk).update(
        start_date=timezone.localdate() - timedelta(days=3),
        positive_date=timezone.localdate() - timedelta(days=3),
    )
    response = desk("thanhdong.nv").post(
        action_url(episode, "complete_action"),
        {
            "_form_submitted": "on",
            "negative_test_date": timezone.localdate().strftime("%d/%m/%Y"),
            "negative_test_type": "rapid",
        },
        follow=True,
    )
    assert "Mới cách ly 3 ngày; cần tối thiểu 7 ngày." in response.content.decode()
    episode.refresh_from_db()
    assert episode.status == "active"


def test_complete_after_seven_days_and_download_the_certificate(desk: Any) -> None:
    episode = demo_episode()
    Episode.objects.filter(pk=episode.pk).update(
        start_date=timezone.localdate() - timedelta(days=8),
        positive_date=timezone.localdate() - timedelta(days=8),
    )
    client = desk("thanhdong.nv")
    assert "hoan-thanh/" in client.get(change_url(episode)).content.decode()
    response = client.post(
        action_url(episode, "complete_action"),
        {
            "_form_submitted": "on",
            "negative_test_date": (timezone.localdate() - timedelta(days=1)).strftime("%d/%m/%Y"),
            "negative_test_type": "rapid",
        },
    )
    assert response.status_code == 302
    episode.refresh_from_db()
    assert episode.status == "completed" and episode.certificate_code
    html = client.get(change_url(episode)).content.decode()
    assert "Hoàn thành cách ly" in html and "giay-xac-nhan/" in html
    assert "hoan-thanh/" not in html and "ket-thuc/" not in html  # read-only now
    pdf = client.get(action_url(episode, "certificate_action"))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert AuditLog.objects.filter(verb="certificate_pdf", target_id=str(episode.pk)).exists()


def test_complete_with_a_bad_date_keeps_the_dialog_open(desk: Any) -> None:
    episode = demo_episode()
    Episode.objects.filter(pk=episode.pk).update(
        start_date=timezone.localdate() - timedelta(days=8),
        positive_date=timezone.localdate() - timedelta(days=8),
    )
    response = desk("thanhdong.nv").post(
        action_url(episode, "complete_action"),
        {"_form_submitted": "on", "negative_test_date": "31/02/2026", "negative_test_type": "rapid"},
    )
    assert response.status_code == 200 and "Ngày không hợp lệ" in response.content.decode()


def test_close_with_a_reason(desk: Any) -> None:
    episode = demo_episode()
    client = desk("thanhdong.nv")
    response = client.post(
        action_url(episode, "close_action"), {"_form_submitted": "on", "status": "transferred", "reason": "x"}
    )
    assert "ít nhất 5 ký tự" in response.content.decode()
    response = client.post(
        action_url(episode, "close_action"),
        {"_form_submitted": "on", "status": "transferred", "reason": "Chuyển BV Đa khoa tỉnh, SpO2 92%"},
    )
    assert response.status_code == 302
    episode.refresh_from_db()
    assert episode.status == "transferred" and episode.end_reason.startswith("Chuyển BV")
    # Read-only afterwards: the buttons are gone and posting again is refused.
    assert "ket-thuc/" not in client.get(change_url(episode)).content.decode()
    response = client.post(
        action_url(episode, "close_action"),
        {"_form_submitted": "on", "status": "closed", "reason": "Lý do khác"},
    )
    assert response.status_code == 403
    # Another station cannot end this station's episodes.
    other = add_episodes(1)[0]
    response = desk("lethanhnghi.nv").post(
        action_url(other, "close_action"),
        {"_form_submitted": "on", "status": "closed", "reason": "Lý do khác"},
    )
    assert response.status_code in (403, 404)
    other.refresh_from_db()
    assert other.status == "active"


def test_episode_list_filters_and_scope(desk: Any) -> None:
    add_episodes(2)
    html = desk("thanhdong.nv").get("/desk/monitoring/episode/", {"status__exact": "active"}).content.decode()
    assert "Nguyễn Văn Hùng" in html and "Người Theo Dõi 001" in html
    assert "Nguyễn Văn Hùng" not in desk("lethanhnghi.nv").get("/desk/monitoring/episode/").content.decode()


# --- Configuration ---------------------------------------------------------------------------------


CONFIG_PAGES = [
    "/desk/monitoring/questionnaireversion/",
    "/desk/monitoring/triagerule/",
    "/desk/monitoring/provincepolicy/",
    "/desk/monitoring/guidancedocument/",
]


def test_configuration_is_for_managers(desk: Any) -> None:
    for username in ("thanhdong.nv", "thanhdong.truong", "bacsi.dieutri"):
        client = desk(username)
        for url in CONFIG_PAGES:
            assert client.get(url).status_code == 403, (username, url)
        page = client.get(BOARD).content.decode()
        assert "Bộ câu hỏi khai báo" not in page and "Quy tắc phân loại" not in page
    manager = desk("syt.lanhdao")
    for url in CONFIG_PAGES:
        assert manager.get(url).status_code == 200, url
    assert "Bộ câu hỏi khai báo" in manager.get(BOARD, {"facility": station().pk}).content.decode()


def test_province_wide_configuration_is_changed_only_at_the_department_of_health(desk: Any) -> None:
    """A TTYT manager reads the questionnaire, rules, policy and guidance but cannot change them: they apply
    to the whole province, so only managers and administrators of the Sở Y tế can."""
    ttyt = desk("ttyt.lanhdao")
    for url in CONFIG_PAGES:
        assert ttyt.get(url).status_code == 200, url
    rule = TriageRule.objects.get(code="fever")
    url = reverse("admin:monitoring_triagerule_change", args=[rule.pk])
    data = {k: ("" if v is None else v) for k, v in model_to_dict(rule).items() if k not in ("id", "code")}
    assert ttyt.post(url, {**data, "value": "37.0"}).status_code == 403
    rule.refresh_from_db()
    assert str(rule.value) != "37.0"
    assert ttyt.get(reverse("admin:monitoring_triagerule_add")).status_code == 403
    assert ttyt.get(reverse("admin:monitoring_provincepolicy_add")).status_code == 403
    v1 = QuestionnaireVersion.objects.get(is_active=True)
    assert (
        ttyt.get(reverse("admin:monitoring_questionnaireversion_copy_action", args=[v1.pk])).status_code
        == 403
    )
    page = ttyt.get(reverse("admin:monitoring_questionnaireversion_change", args=[v1.pk])).content.decode()
    assert "SpO2" in page  # the questions are shown, read-only
    assert not AuditLog.objects.filter(verb="configure").exists()


def test_questionnaire_in_use_is_copied_then_activated(desk: Any) -> None:
    declare(demo_episode().patient, "a", temperature="36.6")
    v1 = QuestionnaireVersion.objects.get(is_active=True)
    client = desk("syt.lanhdao")
    html = client.get(reverse("admin:monitoring_questionnaireversion_change", args=[v1.pk])).content.decode()
    assert "không sửa trực tiếp được" in html and "Tạo phiên bản mới" in html
    response = client.post(
        reverse("admin:monitoring_questionnaireversion_change", args=[v1.pk]), {"title": "Đổi tên"}
    )
    assert response.status_code == 403
    copy_url = reverse("admin:monitoring_questionnaireversion_copy_action", args=[v1.pk])
    versions = QuestionnaireVersion.objects.count()
    assert client.get(copy_url).status_code == 200  # a GET only opens the dialog
    assert QuestionnaireVersion.objects.count() == versions
    response = client.post(copy_url, {"_form_submitted": "on"})
    assert response.status_code == 302
    v2 = QuestionnaireVersion.objects.get(version=v1.version + 1)
    assert not v2.is_active and v2.questions.count() == v1.questions.count()
    assert active_questionnaire()[0] == v1  # cached
    activate_url = reverse("admin:monitoring_questionnaireversion_activate_action", args=[v2.pk])
    response = client.post(activate_url, {"_form_submitted": "on"})
    assert response.status_code == 302
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v2.is_active and not v1.is_active
    assert active_questionnaire()[0] == v2  # caches were reset
    assert AuditLog.objects.filter(verb__in=["copy_questionnaire", "activate_questionnaire"]).count() == 2
    # Station staff cannot copy or activate.
    assert (
        desk("thanhdong.nv")
        .get(reverse("admin:monitoring_questionnaireversion_copy_action", args=[v2.pk]))
        .status_code
        == 403
    )


def test_triage_rule_edit_takes_effect_on_the_next_declaration(desk: Any) -> None:
    patient = demo_episode().patient
    assert declare(patient, "before", temperature="37.6").alert_level == "none"  # rules now cached
    rule = TriageRule.objects.get(code="fever")
    data = {k: ("" if v is None else v) for k, v in model_to_dict(rule).items() if k not in ("id", "code")}
    data.update(value="37.5", reason_vi="Sốt nhẹ {value} °C")
    url = reverse("admin:monitoring_triagerule_change", args=[rule.pk])
    assert desk("thanhdong.nv").post(url, data).status_code == 403
    response = desk("syt.lanhdao").post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    after = declare(patient, "after", temperature="37.6")
    assert after.alert_level == "watch" and after.reasons[0].startswith("Sốt nhẹ 37")
    assert AuditLog.objects.filter(verb="configure", target_id=str(rule.pk)).exists()


def test_province_policy_reminder_times_are_validated(desk: Any) -> None:
    client = desk("syt.lanhdao")
    url = reverse("admin:monitoring_provincepolicy_add")
    base = {
        "province_code": 31,
        "declaration_deadline": "10:00",
        "min_isolation_days": 7,
        "escalate_after_silent_days": 2,
    }
    for bad, message in (
        ("8h, 9:30", "Giờ không hợp lệ"),
        ("08:00, 09:00, 09:30", "Tối đa 2 giờ"),
        ("08:00, 10:30", "trước hạn khai báo"),
    ):
        html = client.post(url, {**base, "reminder_times": bad}).content.decode()
        assert message in html, bad
    response = client.post(url, {**base, "reminder_times": "09:15; 07:30"})
    assert response.status_code == 302
    assert ProvincePolicy.objects.get(province_code=31).reminder_times == ["07:30", "09:15"]


def test_guidance_pdf_upload_is_limited_to_pdf(desk: Any, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    client = desk("syt.lanhdao")
    url = reverse("admin:monitoring_guidancedocument_add")
    base = {
        "title": "Hướng dẫn chăm sóc F0 tại nhà",
        "summary": "",
        "body": "",
        "source": "Bộ Y tế",
        "order": 1,
    }
    fake = SimpleUploadedFile("huong-dan.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    html = client.post(url, {**base, "is_published": "on", "pdf": fake}).content.decode()
    assert "Chỉ nhận tệp PDF" in html
    big = SimpleUploadedFile(
        "lon.pdf", b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024), content_type="application/pdf"
    )
    assert "tối đa 10 MB" in client.post(url, {**base, "pdf": big}).content.decode()
    good = SimpleUploadedFile("huong-dan.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf")
    response = client.post(url, {**base, "is_published": "on", "pdf": good})
    assert response.status_code == 302
    document = GuidanceDocument.objects.get(title=base["title"])
    assert document.pdf.name.endswith(".pdf") and document.is_published


def test_sidebar_has_the_monitoring_group_and_reports(desk: Any) -> None:
    html = desk("thanhdong.nv").get(BOARD).content.decode()
    for label in (
        "Theo dõi tại nhà",
        "Bảng theo dõi hôm nay",
        "Chưa khai báo / Danh sách gọi",
        "Đợt chăm sóc",
    ):
        assert label in html
    assert 'href="/bao-cao/"' not in html  # reports are for heads and managers
    assert 'href="/bao-cao/"' in desk("thanhdong.truong").get(BOARD).content.decode()
