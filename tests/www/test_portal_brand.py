"""The province's health portal (issue 12, section 2): its name from the Sở Y tế, the home page's services, the
home-care programme switch, the account page's services for every account and the desk's header."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.utils import translation

from health_f0.desk.site import desk_site, desk_site_header, desk_site_title
from health_f0.facilities.models import Facility, FacilityKind
from health_f0.facilities.portal import SiteInfo, site_info
from tests.access_records import resident_account

AUTHORITY = "Sở Y tế thành phố Hải Phòng"
PORTAL = "Cổng sức khoẻ thành phố Hải Phòng"
CSS = len((Path(__file__).parents[2] / "health_f0/www/static/www/site.css").read_bytes())
SERVICE_LINKS = ['href="/dat-lich"', 'href="/lich-hen"', 'href="/ho-so-kham"', 'href="/lien-ket-ho-so"']


def _demo_account() -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="bn0000001")


def html(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return str(response.content.decode())


# --- The portal's name ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authority", "place", "short"),
    [
        ("Sở Y tế thành phố Hải Phòng", "thành phố Hải Phòng", "Sở Y tế Hải Phòng"),
        ("Sở Y tế tỉnh Lạng Sơn", "tỉnh Lạng Sơn", "Sở Y tế Lạng Sơn"),
        ("Sở Y tế Hà Nội", "Hà Nội", "Sở Y tế Hà Nội"),
        ("Sở Y tế", "", "Sở Y tế"),
        ("Trung tâm Y tế huyện đảo", "", "Trung tâm Y tế huyện đảo"),
    ],
)
def test_the_place_comes_from_the_departments_name(authority: str, place: str, short: str) -> None:
    info = SiteInfo(authority=authority, hotline="", province_code=None)
    assert info.place == place and info.short_authority == short


def test_the_portal_title_is_built_from_the_place_in_the_current_language(settings: Any) -> None:
    settings.PORTAL_TITLE = ""
    info = SiteInfo(authority=AUTHORITY, hotline="", province_code=31)
    with translation.override("vi"):
        assert info.title == PORTAL
    assert SiteInfo(authority="Sở Y tế", hotline="", province_code=None).title in (
        "Cổng sức khoẻ",
        "Health portal",
    )


def test_a_configured_title_wins(settings: Any) -> None:
    settings.PORTAL_TITLE = "Sức khoẻ Hải Phòng"
    assert SiteInfo(authority=AUTHORITY, hotline="", province_code=31).title == "Sức khoẻ Hải Phòng"


@pytest.mark.django_db
def test_two_departments_show_the_plain_names(demo: Any) -> None:
    doh = Facility.objects.get(kind=FacilityKind.DEPARTMENT_OF_HEALTH)
    Facility.objects.create(
        code="SYT-01",
        kind=FacilityKind.DEPARTMENT_OF_HEALTH,
        name="Sở Y tế thành phố Hà Nội",
        province_code=1,
    )
    from health_f0.facilities.portal import _site_info

    assert _site_info().authority == "Sở Y tế"
    assert doh.name == AUTHORITY


@pytest.mark.django_db
def test_every_portal_page_carries_the_portal_name_not_f0(demo: Any, client: Client) -> None:
    for path in ("/", "/dang-nhap", "/dang-ky-tai-khoan", "/dat-lich", "/chinh-sach-du-lieu"):
        page = html(client.get(path, headers={"accept-language": "vi"}))
        assert f'<span class="brand-name">{PORTAL}</span>' in page, path
        assert f"— {AUTHORITY}</title>" in page, path
        assert "Chăm sóc sức khoẻ F0 tại nhà" not in page, path


# --- The home page ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_home_leads_with_the_four_services_then_home_care_while_a_programme_runs(
    demo: Any, client: Client, settings: Any
) -> None:
    settings.HOMECARE_PROGRAMME_ACTIVE = True
    page = html(client.get("/"))
    assert f'<h1 id="home-title">{PORTAL}</h1>' in page
    positions = [page.index(link) for link in SERVICE_LINKS]
    assert positions == sorted(positions)
    care = page.index('aria-labelledby="homecare-title"')
    assert positions[-1] < care
    assert 'class="action-card action-secondary" href="/dang-ky"' in page  # a big card, after the services
    assert "Gọi ngay 115 hoặc trạm y tế khi có một trong các dấu hiệu" in page
    assert len(page.encode()) + CSS < 100 * 1024


@pytest.mark.django_db
def test_home_care_is_a_small_link_when_no_programme_runs(demo: Any, client: Client, settings: Any) -> None:
    settings.HOMECARE_PROGRAMME_ACTIVE = False
    page = html(client.get("/"))
    positions = [page.index(link) for link in SERVICE_LINKS]
    assert positions == sorted(positions)
    assert 'aria-labelledby="homecare-title"' not in page
    assert 'class="action-card action-secondary" href="/dang-ky"' not in page
    assert '<li><a href="/dang-ky">Đăng ký chăm sóc tại nhà</a>' in page
    assert "Gọi ngay 115 hoặc trạm y tế khi có" not in page


@pytest.mark.django_db
def test_home_offers_an_account_to_guests_and_the_account_page_to_patients(demo: Any, client: Client) -> None:
    page = html(client.get("/"))
    assert 'href="/dang-ky-tai-khoan"' in page and 'href="/dang-nhap"' in page
    client.force_login(_demo_account())
    page = html(client.get("/"))
    assert 'href="/ca-nhan">Trang cá nhân của tôi' in page and 'href="/dang-ky-tai-khoan"' not in page


# --- /ca-nhan ------------------------------------------------------------------------------------------------


def _my_services(page: str) -> str:
    start = page.index('aria-labelledby="services-title"')
    return page[start : page.index("</nav>", start)]


@pytest.mark.django_db
def test_a_resident_account_has_appointments_and_hospital_records_but_no_declaration(
    demo: Any, client: Client
) -> None:
    resident = resident_account()
    assert resident.account is not None
    client.force_login(resident.account)
    page = html(client.get("/ca-nhan"))
    services = _my_services(page)
    for key, title, link in (
        ("appts", "Lịch hẹn của tôi", "/lich-hen"),
        ("records", "Hồ sơ khám bệnh", "/ho-so-kham"),
        ("link", "Liên kết hồ sơ bệnh viện", "/lien-ket-ho-so"),
    ):
        # The card's accessible name is its title; the line under it describes it.
        assert f'href="{link}" aria-labelledby="my-{key}-t" aria-describedby="my-{key}-d">' in services
        assert f'<span class="action-title" id="my-{key}-t">{title}</span>' in services
    assert 'id="today-title"' not in page
    assert len(page.encode()) + CSS < 100 * 1024


@pytest.mark.django_db
def test_an_f0_patient_has_the_same_services_and_the_declaration(demo: Any, client: Client) -> None:
    client.force_login(_demo_account())
    page = html(client.get("/ca-nhan"))
    services = _my_services(page)
    assert "Lịch hẹn của tôi" in services and "Hồ sơ khám bệnh" in services
    assert "Liên kết hồ sơ bệnh viện" in services
    assert 'id="today-title"' in page


# --- The desk ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_desk_names_the_province(demo: Any, client: Client) -> None:
    request = RequestFactory().get("/desk/")
    with translation.override("vi"):
        assert desk_site_header(request) == "Sở Y tế Hải Phòng"
        assert desk_site_title(request) == f"Bàn làm việc — {AUTHORITY}"
    page = client.get("/desk/login/", headers={"accept-language": "vi"}).content.decode()
    assert AUTHORITY in page and "health_f0" not in page
    assert "health_f0" not in str(desk_site.site_header)


@pytest.mark.django_db
def test_the_name_follows_the_department(demo: Any) -> None:
    Facility.objects.filter(kind=FacilityKind.DEPARTMENT_OF_HEALTH).update(name="Sở Y tế tỉnh Lạng Sơn")
    from django.core.cache import cache

    cache.clear()
    with translation.override("vi"):
        assert site_info().title == "Cổng sức khoẻ tỉnh Lạng Sơn"
