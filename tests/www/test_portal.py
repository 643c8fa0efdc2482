"""The public portal through Django's test client: registration form, OTP button, login, personal details."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from health_f0.patients.models import Patient
from health_f0.registration.models import Registration
from health_f0.registration.services import registration_accept

PHONE = "0977 000 111"
E164 = "+84977000111"


def form_data(**overrides: Any) -> dict[str, Any]:
    yesterday = timezone.localdate() - timedelta(days=1)
    data: dict[str, Any] = {
        "relation": "self",
        "registrant_name": "",
        "full_name": "Nguyễn Thị Mai",
        "date_of_birth": "01/05/1992",
        "sex": "female",
        "phone": PHONE,
        "cccd": "",
        "bhyt": "",
        "province_code": "31",
        "ward_code": "10532",
        "street": "Số 5 phố Mới",
        "test_type": "rapid",
        "positive_date": yesterday.strftime("%d/%m/%Y"),
        "symptoms": ["cough"],
        "spo2": "98",
        "breathing_rate": "16",
        "conditions_stable": "yes",
        "pregnancy": "no",
        "vaccine_doses": "2",
        "care": "self_care",
        "can_phone": "yes",
        "consent": "on",
        "otp": "",
        "action": "submit",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def get_otp(client: Client, sms: Any, django_capture_on_commit_callbacks: Any) -> Any:
    def get(phone: str = PHONE, e164: str = E164, c: Client | None = None) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = (c or client).post("/dang-ky", form_data(action="otp", phone=phone))
        assert response.status_code == 200, response.content.decode()[:2000]
        return sms.last_otp(e164)

    return get


def html(response: Any) -> str:
    return response.content.decode()


@pytest.mark.django_db
def test_home_has_both_actions_and_language_switch(demo: Any, client: Client) -> None:
    page = html(client.get("/"))
    assert 'lang="vi"' in page
    assert "Đăng ký chăm sóc tại nhà" in page and 'href="/dang-ky"' in page
    assert "Khai báo sức khoẻ hằng ngày" in page and 'href="/dang-nhap"' in page
    assert "Sở Y tế thành phố Hải Phòng" in page
    assert 'action="/i18n/setlang/"' in page
    assert "0225 384 2000" in page  # the Department's hotline in the footer


@pytest.mark.django_db
def test_register_form_lists_the_served_province_wards(demo: Any, client: Client) -> None:
    page = html(client.get("/dang-ky"))
    assert '<option value="31" selected>' in page
    assert 'value="10510"' in page  # a ward of Hải Phòng is already listed
    assert 'name="action" value="otp"' in page and 'name="action" value="wards"' in page
    assert "/chinh-sach-du-lieu" in page


@pytest.mark.django_db
def test_wards_endpoint(demo: Any, client: Client) -> None:
    response = client.get("/dia-ban/phuong-xa", {"tinh": "31"})
    assert response.status_code == 200
    codes = {w["code"] for w in response.json()["wards"]}
    assert {10510, 10532, 10537} <= codes
    bad = client.get("/dia-ban/phuong-xa", {"tinh": "abc"})
    assert bad.status_code == 400 and bad.json()["code"] == "province_invalid"


@pytest.mark.django_db
def test_ward_reload_keeps_entered_data_and_shows_no_errors(demo: Any, client: Client) -> None:
    response = client.post("/dang-ky", form_data(action="wards", province_code="1", ward_code="", cccd="12"))
    page = html(response)
    assert response.status_code == 200
    assert 'value="Nguyễn Thị Mai"' in page
    assert "errorlist" not in page and "error-summary" not in page
    assert 'value="10510"' not in page  # Hải Phòng's wards replaced by the chosen province's


@pytest.mark.django_db
def test_empty_submit_shows_vietnamese_errors_linked_from_summary(demo: Any, client: Client) -> None:
    response = client.post("/dang-ky", {"action": "submit"})
    page = html(response)
    assert response.status_code == 400
    assert "error-summary" in page
    assert "Vui lòng nhập họ và tên người bệnh." in page
    assert 'href="#id_full_name"' in page
    assert 'href="#id_sex_0"' in page  # radio groups link to their first option
    assert 'aria-describedby="id_full_name_error"' in page
    assert 'aria-invalid="true"' in page


@pytest.mark.django_db
def test_domain_errors_next_to_fields(demo: Any, client: Client, get_otp: Any) -> None:
    code = get_otp()
    response = client.post(
        "/dang-ky", form_data(cccd="12345", spo2="150", consent=None, otp=code), follow=False
    )
    page = html(response)
    assert response.status_code == 400
    assert "Số CCCD phải gồm đúng 12 chữ số." in page
    assert "SpO2 phải từ 50 đến 100 (%)" in page
    assert "Cần đồng ý cho phép xử lý dữ liệu sức khoẻ" in page
    assert 'id="id_cccd_error"' in page and 'id="id_spo2_error"' in page and 'id="id_consent_error"' in page
    assert not Registration.objects.filter(phone=E164).exists()
    # The code was not used up by the invalid attempt: fixing the form succeeds with it.
    ok = client.post("/dang-ky", form_data(otp=code))
    assert ok.status_code == 302


@pytest.mark.django_db
def test_otp_button_sends_code_and_keeps_data(
    demo: Any, client: Client, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/dang-ky", form_data(action="otp"))
    page = html(response)
    assert response.status_code == 200
    assert "Mã OTP đã được gửi tới 0977 000 111, có hiệu lực 5 phút." in page
    assert 'value="Nguyễn Thị Mai"' in page and 'value="01/05/1992"' in page
    assert 'value="10532" selected' in page
    otp_input = re.search(r'<input[^>]*name="otp"[^>]*>', page)
    assert otp_input and "autofocus" in otp_input.group(0)
    assert "errorlist" not in page
    assert len(sms.last_otp(E164)) == 6


@pytest.mark.django_db
def test_otp_button_with_bad_phone(demo: Any, client: Client) -> None:
    response = client.post("/dang-ky", form_data(action="otp", phone="12345"))
    page = html(response)
    assert response.status_code == 400
    assert "Số điện thoại" in page and 'id="id_phone_error"' in page
    # Only the phone is judged when asking for a code.
    assert 'id="id_full_name_error"' not in page


@pytest.mark.django_db
def test_otp_rate_limit_message(demo: Any, client: Client, get_otp: Any) -> None:
    get_otp()
    response = client.post("/dang-ky", form_data(action="otp"))
    page = html(response)
    assert response.status_code == 429
    assert "Vui lòng chờ" in page and "giây trước khi lấy mã mới" in page
    assert "Có thể lấy mã mới sau" not in page  # the wait is said once (issue 9)
    assert 'value="Nguyễn Thị Mai"' in page


@pytest.mark.django_db
def test_wrong_otp(demo: Any, client: Client, get_otp: Any) -> None:
    get_otp()
    response = client.post("/dang-ky", form_data(otp="000000"))
    assert response.status_code == 400
    assert "Mã OTP không đúng" in html(response)
    assert 'id="id_otp_error"' in html(response)


@pytest.mark.django_db
def test_submit_success_and_done_page_only_for_this_session(demo: Any, client: Client, get_otp: Any) -> None:
    code = get_otp()
    response = client.post("/dang-ky", form_data(otp=code))
    assert response.status_code == 302
    registration = Registration.objects.get(phone=E164)
    assert response["Location"] == f"/dang-ky/da-gui/{registration.public_id}"
    assert registration.channel == "web" and registration.facility.code == "TYT-10532"
    page = html(client.get(response["Location"]))
    assert "Đã gửi đăng ký" in page
    assert "Trạm Y tế phường Lê Thanh Nghị" in page and "0220 389 1002" in page
    assert "0977 *** 111" in page
    assert "Gọi cấp cứu 115" not in page  # eligibility is not shown to the public
    assert "Đủ điều kiện" not in page
    assert Client().get(response["Location"]).status_code == 404
    other = Registration.objects.exclude(pk=registration.pk).first()
    assert other is not None
    assert client.get(f"/dang-ky/da-gui/{other.public_id}").status_code == 404


@pytest.mark.django_db
def test_done_page_urgent_notice_for_danger_signs(demo: Any, client: Client, get_otp: Any) -> None:
    code = get_otp()
    response = client.post("/dang-ky", form_data(otp=code, symptoms=["shortness_of_breath"], spo2="91"))
    assert response.status_code == 302
    page = html(client.get(response["Location"]))
    assert "Cần liên hệ nhân viên y tế ngay" in page
    assert 'href="tel:115"' in page and 'href="tel:02203891002"' in page


@pytest.mark.django_db
def test_duplicate_registration_message(demo: Any, client: Client, get_otp: Any) -> None:
    # Trần Thị Bích is already waiting at TYT-10510 (demo data).
    code = get_otp(phone="0987654321", e164="+84987654321")
    response = client.post(
        "/dang-ky",
        form_data(
            phone="0987654321",
            full_name="trần thị bích",
            date_of_birth="02/09/1990",
            ward_code="10510",
            otp=code,
        ),
    )
    assert response.status_code == 409
    assert "đã có hồ sơ đăng ký đang được xử lý" in html(response)


@pytest.mark.django_db
def test_privacy_page(demo: Any, client: Client, settings: Any) -> None:
    page = html(client.get("/chinh-sach-du-lieu"))
    assert "91/2025/QH15" in page and "356/2025" in page and settings.PRIVACY_POLICY_VERSION in page


@pytest.mark.django_db
def test_me_requires_login(demo: Any, client: Client) -> None:
    response = client.get("/ca-nhan")
    assert response.status_code == 302 and response["Location"].startswith("/dang-nhap?next=/ca-nhan")


def _login(client: Client, username: str, password: str) -> Any:
    return client.post("/dang-nhap", {"username": username, "password": password})


@pytest.mark.django_db
def test_patient_login_sees_own_details_and_confirms(demo: Any, client: Client) -> None:
    response = _login(client, "bn0000001", "demo-2026")
    assert response.status_code == 302 and response["Location"] == "/ca-nhan"
    page = html(client.get("/ca-nhan"))
    assert "Nguyễn Văn Hùng" in page and "12/04/1985" in page and "0912 345 678" in page
    assert "Trạm Y tế phường Thành Đông" in page and "0220 389 1001" in page
    assert (
        "Số 12 Trần Hưng Đạo" in page
        and "Số 12 Trần Hưng Đạo, Phường Thành Đông, Thành phố Hải Phòng" in page
    )
    assert "Khai báo sức khoẻ hằng ngày sẽ có ở đây" not in page
    response = client.post("/ca-nhan")
    # "Thông tin chính xác — Tiếp tục" leads to the daily declaration form (Phần 2, bước 4).
    assert response.status_code == 302 and response["Location"] == "/khai-bao"
    assert Patient.objects.get(account__username="bn0000001").details_confirmed_at is not None
    page = html(client.get("/khai-bao"))
    assert "Cảm ơn bạn đã xác nhận thông tin cá nhân." in page
    assert "Khai báo sức khoẻ hôm nay" in page


@pytest.mark.django_db
def test_me_shows_only_own_patient(
    demo: Any, client: Client, persona: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pending = Registration.objects.get(full_name="Lê Thị Dung")
    registration_accept(registration=pending, actor=persona("lethanhnghi.nv"))
    user = Patient.objects.get(full_name="Lê Thị Dung").account
    assert user is not None
    client.force_login(user)
    # A fresh account must change its password first.
    assert client.get("/ca-nhan")["Location"] == "/tai-khoan/doi-mat-khau"
    user.must_change_password = False
    user.save()
    page = html(client.get("/ca-nhan"))
    assert "Lê Thị Dung" in page and "Nguyễn Văn Hùng" not in page
    assert "Trạm Y tế phường Lê Thanh Nghị" in page


@pytest.mark.django_db
def test_wrong_password_message(demo: Any, client: Client) -> None:
    response = _login(client, "bn0000001", "wrong-password")
    assert response.status_code == 400
    assert "tên tài khoản hoặc mật khẩu không đúng" in html(response)


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["thanhdong.nv", "admin"])
def test_staff_go_to_desk_after_login(demo: Any, client: Client, username: str) -> None:
    response = _login(client, username, "demo-2026")
    assert response.status_code == 302 and response["Location"] == "/desk/"
    assert client.get("/ca-nhan")["Location"] == "/desk/"


@pytest.mark.django_db
def test_forced_password_change(
    demo: Any, client: Client, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pending = Registration.objects.get(full_name="Lê Thị Dung")
    with django_capture_on_commit_callbacks(execute=True):
        registration_accept(registration=pending, actor=persona("lethanhnghi.nv"))
    body = sms.last(to="+84338123456", kind="account")["body"]
    username = body.split("Tai khoan: ")[1].split()[0]
    password = body.split("Mat khau: ")[1].split()[0]
    response = _login(client, username, password)
    assert response["Location"] == "/tai-khoan/doi-mat-khau"
    page = html(client.get("/tai-khoan/doi-mat-khau"))
    assert "Mật khẩu bạn đang dùng được gửi qua tin nhắn" in page and "old_password" not in page
    weak = client.post("/tai-khoan/doi-mat-khau", {"new_password1": "12345678", "new_password2": "12345678"})
    assert weak.status_code == 400 and "Mật khẩu" in html(weak) and "errorlist" in html(weak)
    same = client.post("/tai-khoan/doi-mat-khau", {"new_password1": password, "new_password2": password})
    assert "Mật khẩu mới phải khác mật khẩu hiện tại." in html(same)
    mismatch = client.post(
        "/tai-khoan/doi-mat-khau", {"new_password1": "Xanh-la-cay-2026", "new_password2": "Xanh-la-cay-2027"}
    )
    assert "Hai mật khẩu mới không giống nhau." in html(mismatch)
    done = client.post(
        "/tai-khoan/doi-mat-khau", {"new_password1": "Xanh-la-cay-2026", "new_password2": "Xanh-la-cay-2026"}
    )
    assert done.status_code == 302 and done["Location"] == "/ca-nhan"
    page = html(client.get("/ca-nhan"))
    assert "Đã đổi mật khẩu." in page and "Lê Thị Dung" in page
    # Later changes ask for the current password.
    assert "old_password" in html(client.get("/tai-khoan/doi-mat-khau"))


@pytest.mark.django_db
def test_logout_is_post_only(demo: Any, client: Client) -> None:
    _login(client, "bn0000001", "demo-2026")
    assert client.get("/dang-xuat").status_code == 405
    assert client.post("/dang-xuat")["Location"] == "/"
    assert client.get("/ca-nhan").status_code == 302
