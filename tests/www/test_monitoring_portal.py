"""The patient's side of home-care monitoring in the portal, through Django's test client: the daily
declaration form, the result with what to do now, the family switch, history with charts, guidance, the
completion certificate and its public verification, read-only closed episodes, access."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from health_f0.monitoring.models import Declaration, Episode, GuidanceDocument, ProvincePolicy
from health_f0.monitoring.services import (
    declaration_submit,
    episode_close,
    episode_complete,
    reset_caches,
)
from health_f0.patients.models import Patient
from health_f0.registration.models import Registration
from health_f0.registration.services import (
    RegistrationInput,
    _create,
    registration_accept,
    registration_validate,
)

pytestmark = pytest.mark.django_db

NORMAL = {"temperature": "36,8", "spo2": "98", "breathing_rate": "16", "pulse": "80", "symptoms": ["cough"]}


def html(response: Any) -> str:
    return response.content.decode()


def text(response: Any) -> str:
    """The page's visible text, tags removed and whitespace collapsed (for phrases split over lines)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html(response)))


@pytest.fixture
def hung(demo: Any) -> Patient:
    reset_caches()
    return Patient.objects.select_related("account").get(account__username="bn0000001")


@pytest.fixture
def portal(hung: Patient) -> Client:
    client = Client()
    client.force_login(hung.account)
    return client


def form_key(page: str) -> str:
    match = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', page)
    assert match, "no idempotency key in the form"
    return match.group(1)


def post_declaration(client: Client, patient: Patient, key: str = "", **answers: Any) -> Any:
    data: dict[str, Any] = {"patient": str(patient.public_id), "idempotency_key": key}
    data.update(answers)
    return client.post("/khai-bao", data)


def make_child(hung: Patient, persona: Any) -> Patient:
    """A child registered by the same phone: the family's account may declare for both."""
    data = registration_validate(
        RegistrationInput(
            full_name="Nguyễn Minh Khang",
            date_of_birth=hung.date_of_birth.replace(year=2019),
            sex="male",
            phone=hung.phone,
            province_code=31,
            ward_code=10510,
            test_type="rapid",
            positive_date=timezone.localdate() - timedelta(days=1),
            care="caregiver",
            consent=True,
            relation="relative",
            registrant_name="Nguyễn Văn Hùng",
        )
    )
    registration = _create(data, channel="web", facility=hung.facility, actor=None)
    patient = registration_accept(registration=registration, actor=persona("thanhdong.nv")).patient
    assert patient is not None
    return patient


def other_family(persona: Any) -> Patient:
    registration = Registration.objects.get(full_name="Lê Thị Dung")
    patient = registration_accept(registration=registration, actor=persona("lethanhnghi.nv")).patient
    assert patient is not None
    return patient


# --- /ca-nhan -> /khai-bao: the flow of Phần 2 ------------------------------------------------------


def test_me_shows_today_status_and_continue_leads_to_the_form(portal: Client, hung: Patient) -> None:
    page = text(portal.get("/ca-nhan"))
    assert "Khai báo sức khoẻ hằng ngày" in page and "Chưa khai báo" in page
    assert "Trước 10:00 mỗi ngày" in page
    assert "sẽ có ở đây" not in page
    response = portal.post("/ca-nhan", {"patient": str(hung.public_id)})
    assert response.status_code == 302 and response["Location"] == "/khai-bao"
    form = portal.get("/khai-bao")
    page = html(form)
    assert form.status_code == 200
    assert "Cảm ơn bạn đã xác nhận thông tin cá nhân." in page
    assert "Hạn khai báo: trước 10:00 mỗi ngày." in page
    # Number inputs from the questionnaire: unit, range hint, help, a decimal keyboard.
    temperature = re.search(r"<input[^>]*id=\"id_temperature\"[^>]*>", page)
    assert temperature and 'inputmode="decimal"' in temperature.group(0)
    assert "Nhiệt độ cơ thể (°C)" in text(form) and "Nhập số từ 34 đến 43." in page
    assert "Đo ở nách hoặc trán" in page
    assert 'aria-describedby="id_temperature_helptext"' in page
    # Danger signs are marked; free text is there; a fresh idempotency key per rendering.
    assert re.search(r'choice-danger">[^\n]*id="id_symptoms_\d+"[^\n]*Khó thở, thở hụt hơi', page)
    assert "dấu hiệu nguy hiểm" in page and 'name="note"' in page
    assert form_key(page) != form_key(html(portal.get("/khai-bao")))


def test_anonymous_and_staff_do_not_reach_the_patient_pages(demo: Any, client: Client, persona: Any) -> None:
    for path in ("/khai-bao", "/lich-su"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/dang-nhap?next=")
    client.force_login(persona("thanhdong.nv"))
    assert client.get("/khai-bao")["Location"] == "/desk/"
    assert client.get("/lich-su")["Location"] == "/desk/"


# --- Submitting ----------------------------------------------------------------------------------------


def test_normal_declaration_thanks_and_records_who_submitted(portal: Client, hung: Patient) -> None:
    key = form_key(html(portal.get("/khai-bao")))
    response = post_declaration(portal, hung, key, **NORMAL, note="Ngủ được")
    assert response.status_code == 302
    declaration = Declaration.objects.get(patient=hung)
    assert response["Location"] == f"/khai-bao/ket-qua/{declaration.public_id}"
    assert declaration.submitted_by == hung.account and declaration.idempotency_key == key
    assert declaration.temperature == Decimal("36.8") and declaration.alert_level == "none"
    page = text(portal.get(response["Location"]))
    assert "Đã nhận khai báo — cảm ơn bạn" in page and "Hẹn gặp lại ngày mai" in page
    assert "36,8 °C" in page and "98%" in page and "Ho" in page and "Ngủ được" in page
    assert "Khai báo lại khi có thay đổi" in page
    assert f'href="/khai-bao?nguoi-benh={hung.public_id}"' in html(portal.get(response["Location"]))
    # /ca-nhan now says it is done today.
    assert "Đã khai báo lúc" in text(portal.get("/ca-nhan"))


def test_double_submit_is_one_declaration(portal: Client, hung: Patient) -> None:
    key = form_key(html(portal.get("/khai-bao")))
    first = post_declaration(portal, hung, key, **NORMAL)
    again = post_declaration(portal, hung, key, **NORMAL)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"]
    assert Declaration.objects.filter(patient=hung).count() == 1
    # A new rendering of the form is a new declaration ("declare again when something changes").
    post_declaration(portal, hung, form_key(html(portal.get("/khai-bao"))), **{**NORMAL, "spo2": "97"})
    assert Declaration.objects.filter(patient=hung).count() == 2


def test_out_of_range_is_refused_next_to_the_field(portal: Client, hung: Patient) -> None:
    key = form_key(html(portal.get("/khai-bao")))
    response = post_declaration(portal, hung, key, **{**NORMAL, "spo2": "150", "temperature": ""})
    assert response.status_code == 400
    page = html(response)
    spo2_error = re.search(r'<ul class="errorlist" id="id_spo2_error">(.*?)</ul>', page, re.S)
    assert spo2_error and "SpO2 (nồng độ oxy trong máu): 150 % không hợp lý" in spo2_error.group(1)
    # Temperature may be left blank (issue 9.5: "leave blank what cannot be measured").
    assert 'id="id_temperature_error"' not in page
    assert 'href="#id_spo2"' in page and "error-summary" in page
    assert 'aria-invalid="true"' in page
    # What was typed stays, and the same key is kept for the corrected resubmission.
    assert 'value="150"' in page and form_key(page) == key
    assert not Declaration.objects.filter(patient=hung).exists()


def test_comma_decimal_is_accepted(portal: Client, hung: Patient) -> None:
    post_declaration(portal, hung, "k1", **{**NORMAL, "temperature": "37,5"})
    assert Declaration.objects.get(patient=hung).temperature == Decimal("37.5")


def test_emergency_says_call_115_and_the_station(portal: Client, hung: Patient) -> None:
    response = post_declaration(
        portal, hung, "k1", **{**NORMAL, "spo2": "92", "symptoms": ["shortness_of_breath"]}
    )
    page = html(portal.get(response["Location"]))
    assert "Cấp cứu: gọi 115 ngay" in page
    assert re.search(r'<a class="button button-danger button-call" href="tel:115">Gọi 115 ngay</a>', page)
    assert 'href="tel:02203891001"' in page and "Gọi trạm y tế: 0220\u00a0389\u00a01001" in page
    assert "Khó thở" in page and "SpO2 92% dưới 94%" in page
    assert 'role="alert"' in page
    assert Declaration.objects.get(patient=hung).alert_level == "emergency"


def test_urgent_says_call_the_station_now(portal: Client, hung: Patient) -> None:
    response = post_declaration(portal, hung, "k1", **{**NORMAL, "spo2": "95"})
    page = text(portal.get(response["Location"]))
    assert "Cần liên hệ nhân viên y tế ngay" in page and "Gọi trạm y tế ngay: 0220 389 1001" in page
    assert "SpO2 95% ≤ 96%" in page and "Gọi 115 ngay" not in page


def test_watch_says_keep_monitoring(portal: Client, hung: Patient) -> None:
    response = post_declaration(portal, hung, "k1", **{**NORMAL, "temperature": "38,2"})
    page = text(portal.get(response["Location"]))
    assert "cần theo dõi thêm" in page and "Sốt 38,2 °C" in page and "khai báo lại ngay" in page


def test_result_of_another_family_is_404(portal: Client, persona: Any) -> None:
    stranger = other_family(persona)
    declaration, _ = declaration_submit(patient=stranger, actor=None, answers=NORMAL)
    assert portal.get(f"/khai-bao/ket-qua/{declaration.public_id}").status_code == 404
    assert portal.get("/khai-bao/ket-qua/not-a-uuid").status_code == 404


# --- Deadline and lateness (the service decides lateness; the pages show it) ----------------------


def test_past_the_deadline_is_shown_and_marked_late(portal: Client, hung: Patient) -> None:
    ProvincePolicy.objects.create(province_code=31, declaration_deadline=time(0, 0), reminder_times=[])
    reset_caches()
    if timezone.localtime().time() == time(0, 0):  # pragma: no cover - the one minute it cannot be late
        pytest.skip("exactly midnight")
    page = text(portal.get("/khai-bao"))
    assert "Hôm nay chưa khai báo và đã quá 00:00" in page and "ghi là muộn" in page
    assert "Đã quá hạn hôm nay" in text(portal.get("/ca-nhan"))
    response = post_declaration(portal, hung, "k1", **NORMAL)
    assert Declaration.objects.get(patient=hung).late is True
    assert "khai báo muộn" in text(portal.get(response["Location"]))
    assert "khai báo muộn" in text(portal.get("/lich-su"))


def test_before_the_deadline_is_on_time(portal: Client, hung: Patient) -> None:
    ProvincePolicy.objects.create(province_code=31, declaration_deadline=time(23, 59), reminder_times=[])
    reset_caches()
    if timezone.localtime().time() >= time(23, 59):  # pragma: no cover
        pytest.skip("the last minute of the day")
    page = text(portal.get("/khai-bao"))
    assert "Hạn khai báo: trước 23:59 mỗi ngày." in page and "Hôm nay chưa khai báo." in page
    assert "ghi là muộn" not in page
    post_declaration(portal, hung, "k1", **NORMAL)
    assert Declaration.objects.get(patient=hung).late is False


def test_lateness_follows_local_time_at_the_service(hung: Patient) -> None:
    # 02:59 UTC is 09:59 in Ha Noi (on time), 03:01 UTC is 10:01 (late) with the default 10:00 deadline.
    on_time, _ = declaration_submit(
        patient=hung, actor=None, answers=NORMAL, now=datetime(2026, 11, 23, 2, 59, tzinfo=UTC)
    )
    late, _ = declaration_submit(
        patient=hung,
        actor=None,
        answers={**NORMAL, "spo2": "97"},
        now=datetime(2026, 11, 23, 3, 1, tzinfo=UTC),
    )
    assert (on_time.late, late.late) == (False, True)


# --- Family switch -----------------------------------------------------------------------------------


def test_family_switch_declares_for_the_chosen_patient(portal: Client, hung: Patient, persona: Any) -> None:
    child = make_child(hung, persona)
    page = html(portal.get("/ca-nhan"))
    assert "Đang xem và khai báo cho" in page
    assert "Nguyễn Minh Khang" in page and "Nguyễn Văn Hùng" in page
    assert f'href="?nguoi-benh={child.public_id}"' in page
    # Choosing the child shows the child's details, and the choice is remembered.
    chosen = html(portal.get(f"/ca-nhan?nguoi-benh={child.public_id}"))
    assert re.search(
        r'aria-current="true" class="is-current"><span class="switch-name">Nguyễn Minh Khang', chosen
    )
    assert "sinh năm 2019" in chosen
    form = html(portal.get("/khai-bao"))
    assert f'name="patient" value="{child.public_id}"' in form
    post_declaration(portal, child, form_key(form), **NORMAL)
    declaration = Declaration.objects.get(patient=child)
    assert declaration.submitted_by == hung.account
    assert not Declaration.objects.filter(patient=hung).exists()
    assert "Nguyễn Minh Khang" in html(portal.get("/lich-su")) and "36,8 °C" in text(portal.get("/lich-su"))
    # Back to the parent: the history is the parent's (empty) one.
    assert "Chưa có lần khai báo nào" in text(portal.get(f"/lich-su?nguoi-benh={hung.public_id}"))


def test_a_patient_outside_the_family_is_404(portal: Client, hung: Patient, persona: Any) -> None:
    stranger = other_family(persona)
    for path in ("/ca-nhan", "/khai-bao", "/lich-su"):
        assert portal.get(f"{path}?nguoi-benh={stranger.public_id}").status_code == 404, path
        assert portal.get(f"{path}?nguoi-benh=garbage").status_code == 404, path
    assert post_declaration(portal, stranger, "k1", **NORMAL).status_code == 404
    assert portal.post("/ca-nhan", {"patient": str(stranger.public_id)}).status_code == 404
    assert not Declaration.objects.filter(patient=stranger).exists()
    assert Patient.objects.get(pk=stranger.pk).details_confirmed_at is None
    # Without a family the switch is not shown at all.
    assert "Đang xem và khai báo cho" not in html(portal.get("/ca-nhan"))


# --- History --------------------------------------------------------------------------------------------


def test_history_newest_first_with_charts_and_a_table(portal: Client, hung: Patient) -> None:
    episode = Episode.objects.get(patient=hung)
    start = timezone.make_aware(datetime.combine(episode.start_date, time(8, 15)))
    readings = [("37,0", "98"), ("38,4", "97"), ("38,6", "93")]
    for day, (temperature, spo2) in enumerate(readings):
        declaration_submit(
            patient=hung,
            actor=hung.account,
            answers={"temperature": temperature, "spo2": spo2},
            now=start + timedelta(days=day),
        )
    response = portal.get("/lich-su")
    page = html(response)
    flat = text(response)
    dates = [f"{(episode.start_date + timedelta(days=d)):%d/%m/%Y}" for d in range(3)]
    positions = [flat.index(f"{d} 08:15") for d in dates]
    assert positions == sorted(positions, reverse=True), "newest first"
    assert "Cấp cứu" in flat and "Cần theo dõi" in flat and "Bình thường" in flat
    assert "SpO2 93% dưới 94% (mức độ nặng)" in flat and "38,6 °C" in flat
    # Two inline SVG charts with a text alternative, and the data as a table.
    assert page.count('role="img"') == 2 and "<script" not in page
    assert 'aria-labelledby="chart-spo2-title chart-spo2-desc"' in page
    assert "SpO2: 3 lần đo, thấp nhất 93%" in flat
    assert "Nhiệt độ: 3 lần đo, cao nhất 38,6 °C" in flat
    assert page.count("<circle") == 6 and page.count("pt-alert") >= 3
    assert "<table>" in page and f"{dates[2]} 08:15" in flat


def test_history_without_episode_or_declarations(portal: Client, hung: Patient) -> None:
    page = text(portal.get("/lich-su"))
    assert "Chưa có lần khai báo nào trong đợt theo dõi này." in page
    assert "<svg" not in page


# --- Closed episodes are read-only; completion certificate and its verification -----------------------


def test_transferred_episode_is_read_only(portal: Client, hung: Patient, persona: Any) -> None:
    declaration_submit(patient=hung, actor=hung.account, answers=NORMAL)
    episode = Episode.objects.get(patient=hung)
    episode_close(
        episode=episode, actor=persona("thanhdong.nv"), status="transferred", reason="SpO2 thấp, chuyển viện"
    )
    page = text(portal.get("/khai-bao"))
    assert "đã được chuyển đến cơ sở điều trị" in page and "không khai báo thêm được" in page
    assert 'name="idempotency_key"' not in html(portal.get("/khai-bao"))
    assert "đã được chuyển đến cơ sở điều trị" in text(portal.get("/ca-nhan"))
    refused = post_declaration(portal, hung, "k2", **NORMAL)
    assert refused.status_code == 409 and "không thể khai báo" in text(refused)
    assert Declaration.objects.filter(patient=hung).count() == 1
    assert "36,8 °C" in text(portal.get("/lich-su"))  # the history stays readable


def test_closed_episode_shows_the_reason(portal: Client, hung: Patient, persona: Any) -> None:
    episode = Episode.objects.get(patient=hung)
    episode_close(
        episode=episode, actor=persona("thanhdong.nv"), status="closed", reason="Chuyển đi tỉnh khác"
    )
    page = text(portal.get("/khai-bao"))
    assert "Hồ sơ theo dõi tại nhà đã đóng" in page and "Chuyển đi tỉnh khác" in page


def _complete(hung: Patient, persona: Any) -> Episode:
    episode = Episode.objects.get(patient=hung)
    return episode_complete(
        episode=episode,
        actor=persona("thanhdong.nv"),
        negative_test_date=episode.start_date + timedelta(days=6),
        negative_test_type="rapid",
        today=episode.start_date + timedelta(days=7),
    )


def test_certificate_download_for_own_completed_episode(portal: Client, hung: Patient, persona: Any) -> None:
    url = f"/ca-nhan/giay-xac-nhan/{Episode.objects.get(patient=hung).public_id}.pdf"
    assert portal.get(url).status_code == 404  # still active: no certificate yet
    assert "Tải giấy xác nhận" not in html(portal.get("/ca-nhan"))
    episode = _complete(hung, persona)
    page = html(portal.get("/ca-nhan"))
    assert "Tải giấy xác nhận hoàn thành cách ly (PDF)" in page and f'href="{url}"' in page
    assert 'name="idempotency_key"' not in html(portal.get("/khai-bao"))
    response = portal.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert episode.certificate_code in response["Content-Disposition"]


def test_certificate_of_another_family_is_404(demo: Any, persona: Any, hung: Patient) -> None:
    episode = _complete(hung, persona)
    stranger = other_family(persona)
    assert stranger.account is not None
    stranger.account.must_change_password = False
    stranger.account.save()
    client = Client()
    client.force_login(stranger.account)
    assert client.get(f"/ca-nhan/giay-xac-nhan/{episode.public_id}.pdf").status_code == 404
    assert Client().get(f"/ca-nhan/giay-xac-nhan/{episode.public_id}.pdf").status_code == 302


def test_public_verification_shows_only_masked_fields(demo: Any, persona: Any, hung: Patient) -> None:
    episode = _complete(hung, persona)
    response = Client().get(f"/xac-minh/{episode.certificate_code}")
    page = text(response)
    assert response.status_code == 200 and "Giấy xác nhận hợp lệ" in page
    assert "N***** V** Hùng" in page and "1985" in page and "Trạm Y tế phường Thành Đông" in page
    assert "Nguyễn Văn Hùng" not in page and "12/04/1985" not in page and "0912" not in page
    missing = Client().get("/xac-minh/ABCDEFGHJK")
    assert missing.status_code == 404 and "Không tìm thấy giấy xác nhận" in text(missing)
    assert Client().get("/xac-minh/%3Cscript%3E").status_code == 404


def test_public_verification_is_rate_limited(demo: Any) -> None:
    client = Client(REMOTE_ADDR="203.0.113.7")
    statuses = [client.get(f"/xac-minh/ABCDEFGH{n:02d}").status_code for n in range(31)]
    assert statuses[:30] == [404] * 30 and statuses[30] == 429
    limited = client.get("/xac-minh/ABCDEFGH99")
    assert limited.status_code == 429 and "Tra cứu quá nhiều lần" in text(limited)
    assert limited["Retry-After"] == "60"
    assert Client(REMOTE_ADDR="203.0.113.8").get("/xac-minh/ABCDEFGH00").status_code == 404


# --- Guidance ---------------------------------------------------------------------------------------------


def test_guidance_is_loaded_idempotently_and_listed(demo: Any, client: Client) -> None:
    call_command("load_guidance", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("load_guidance", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert GuidanceDocument.objects.count() == 3
    for document in GuidanceDocument.objects.all():
        assert 300 <= len(document.body.split()) <= 600, document.title
        assert "261/QĐ-BYT" in document.source
    page = text(client.get("/huong-dan"))
    assert "Khi nào cần gọi ngay nhân viên y tế" in page
    assert "Cách đo SpO2, nhịp thở, mạch và nhiệt độ tại nhà" in page
    assert "Ăn uống, nghỉ ngơi và cách ly tại nhà" in page
    first = GuidanceDocument.objects.get(order=1)
    detail = client.get(f"/huong-dan/{first.public_id}")
    body = html(detail)
    assert (
        detail.status_code == 200
        and "<h2>Gọi ngay trạm y tế hoặc 115 khi có một trong các dấu hiệu</h2>" in body
    )
    assert "<ul><li>Khó thở, thở hụt hơi" in body


def test_guidance_body_is_plain_text_and_pdf_linked(demo: Any, client: Client) -> None:
    document = GuidanceDocument.objects.create(
        title="Thử nghiệm",
        body='Đoạn một <script>alert(1)</script>\n\n- <b>mục</b>\n\n<img src=x onerror="x()">',
    )
    page = html(client.get(f"/huong-dan/{document.public_id}"))
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<li>&lt;b&gt;mục&lt;/b&gt;</li>" in page and "<img src=x" not in page
    assert "Tải bản PDF" not in page
    document.pdf.name = "guidance/thu-nghiem.pdf"
    document.save()
    assert 'href="/media/guidance/thu-nghiem.pdf"' in html(client.get(f"/huong-dan/{document.public_id}"))
    assert 'href="/media/guidance/thu-nghiem.pdf"' in html(client.get("/huong-dan"))
    document.is_published = False
    document.save()
    assert client.get(f"/huong-dan/{document.public_id}").status_code == 404
    assert "Thử nghiệm" not in html(client.get("/huong-dan"))


# --- Page weight ------------------------------------------------------------------------------------------


def test_pages_stay_light(portal: Client, hung: Patient, persona: Any) -> None:
    call_command("load_guidance", stdout=open("/dev/null", "w"))  # noqa: SIM115
    episode = Episode.objects.get(patient=hung)
    start = timezone.make_aware(datetime.combine(episode.start_date, time(8, 0)))
    for n in range(28):  # two a day over two weeks
        declaration_submit(
            patient=hung,
            actor=hung.account,
            answers={**NORMAL, "spo2": str(94 + n % 5), "note": "Ghi chú " * 20},
            now=start + timedelta(hours=12 * n),
        )
    result = Declaration.objects.filter(patient=hung).first()
    assert result is not None
    css = len(
        (__import__("pathlib").Path(__file__).parents[2] / "health_f0/www/static/www/site.css").read_bytes()
    )
    paths = [
        "/ca-nhan",
        "/khai-bao",
        f"/khai-bao/ket-qua/{result.public_id}",
        "/lich-su",
        "/huong-dan",
        f"/huong-dan/{GuidanceDocument.objects.first().public_id}",  # type: ignore[union-attr]
        "/xac-minh/ABCDEFGHJK",
    ]
    for path in paths:
        response = portal.get(path)
        assert response.status_code in (200, 404), path
        assert len(response.content) + css < 100 * 1024, (path, len(response.content))
