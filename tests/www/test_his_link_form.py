"""The empty link form of /lien-ket-ho-so, drawn once per language, policy version and hospitals offered
(www.his_forms.link_form_drawing), is the markup the form's own partial draws for the page's patient; a drawing
is shared by every account and carries only the page's own patient id."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from health_f0.facilities.models import Facility
from health_f0.facilities.services import facility_save
from health_f0.his.tests.conftest import make_patient
from health_f0.patients.models import Patient
from health_f0.privacy.selectors import policy_current
from health_f0.www import his_forms
from health_f0.www.his_forms import LinkRequestForm, draw_link_fields, link_form_drawing
from tests.access_records import hospital_b

pytestmark = pytest.mark.django_db


@pytest.fixture
def hung(demo: Any) -> Patient:
    return Patient.objects.select_related("account").get(account__username="bn0000001")


@pytest.fixture
def hospitals(demo: Any) -> list[Facility]:
    """The demo's TTYT, a second hospital, and a third whose name needs escaping."""
    odd = facility_save(
        facility=Facility(
            kind="hospital",
            code="BV-ODD",
            name='Bệnh viện "Tâm Đức" <Hải Dương> & Co',
            parent=Facility.objects.get(code="SYT-31"),
            province_code=31,
        )
    )
    return [Facility.objects.get(code="TTYT-HD"), hospital_b(), odd]


def _drawn_by_the_form(patient: Patient, facilities: list[Facility]) -> str:
    """What the page drew before the memo: LinkRequestForm with the view's initial values, its partial."""
    form = LinkRequestForm(
        initial={"patient": patient.public_id, "identifier_type": "bhyt"}, facilities=facilities
    )
    return str(draw_link_fields(form))


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("offered", [1, 2, 3])
def test_the_drawing_is_the_forms_own_markup(
    language: str, offered: int, hung: Patient, hospitals: list[Facility]
) -> None:
    facilities = hospitals[:offered]
    version = policy_current().version
    his_forms._drawings.clear()
    with translation.override(language):
        expected = _drawn_by_the_form(hung, facilities)
        first = link_form_drawing(patient=hung, facilities=facilities, policy_version=version)
        again = link_form_drawing(patient=hung, facilities=facilities, policy_version=version)
    assert str(first.html) == expected and str(again.html) == expected
    assert not first.is_bound and len(his_forms._drawings) == 1
    assert f'value="{hung.public_id}"' in expected
    assert ('<select name="facility"' in expected) == (offered > 1)
    if offered > 1:
        assert all(str(f.public_id) in expected for f in facilities)
    if offered == 3:
        assert "Bệnh viện &#34;Tâm Đức&#34; &lt;Hải Dương&gt; &amp; Co" in expected or (
            "Bệnh viện &quot;Tâm Đức&quot; &lt;Hải Dương&gt; &amp; Co" in expected
        )


def test_one_language_drawing_does_not_serve_the_other(hung: Patient, hospitals: list[Facility]) -> None:
    version = policy_current().version
    his_forms._drawings.clear()
    with translation.override("vi"):
        vi = str(link_form_drawing(patient=hung, facilities=hospitals, policy_version=version).html)
    with translation.override("en"):
        en = str(link_form_drawing(patient=hung, facilities=hospitals, policy_version=version).html)
        assert en == _drawn_by_the_form(hung, hospitals)
    assert vi != en and len(his_forms._drawings) == 2


def test_a_shared_drawing_carries_only_the_pages_own_patient(
    hung: Patient, hospitals: list[Facility], demo: Any
) -> None:
    other = make_patient(name="Trần Văn Khác")
    version = policy_current().version
    his_forms._drawings.clear()
    theirs = str(link_form_drawing(patient=other, facilities=hospitals, policy_version=version).html)
    mine = str(link_form_drawing(patient=hung, facilities=hospitals, policy_version=version).html)
    assert len(his_forms._drawings) == 1  # one drawing for both accounts
    assert str(other.public_id) in theirs and str(other.public_id) not in mine
    assert str(hung.public_id) in mine and str(hung.public_id) not in theirs
    assert mine == _drawn_by_the_form(hung, hospitals)
    assert str(his_forms._PATIENT_SLOT) not in mine


def test_other_hospitals_or_another_policy_version_are_another_drawing(
    hung: Patient, hospitals: list[Facility]
) -> None:
    his_forms._drawings.clear()
    a = str(link_form_drawing(patient=hung, facilities=hospitals[:2], policy_version="1.0").html)
    b = str(link_form_drawing(patient=hung, facilities=hospitals[1:3], policy_version="1.0").html)
    c = str(link_form_drawing(patient=hung, facilities=hospitals[:2], policy_version="9.9").html)
    assert len(his_forms._drawings) == 3 and len({a, b, c}) == 3
    assert 'value="9.9"' in c and 'value="9.9"' not in a


def test_the_page_shows_the_drawing_and_a_posted_form_its_errors(hung: Patient) -> None:
    client = Client()
    client.force_login(hung.account)
    page = client.get("/lien-ket-ho-so").content.decode()
    assert 'name="identifier"' in page and f'name="patient" value="{hung.public_id}"' in page
    version = policy_current().version
    assert f'name="policy_version" value="{version}"' in page and f"(phiên bản {version})" in page
    posted = client.post("/lien-ket-ho-so", {"patient": str(hung.public_id), "identifier_type": "bhyt"})
    body = posted.content.decode()
    assert posted.status_code == 400 and "Vui lòng nhập mã." in body
    assert re.search(r'class="field has-error', body) and f"(phiên bản {version})" in body
