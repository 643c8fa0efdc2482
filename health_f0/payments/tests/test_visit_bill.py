"""The visit's bill from XML1's totals (T_TONGCHI, T_BHTT, T_BNCCT + T_BNTT): read by the XML adapter and
stored on the visit by the import, so "Hồ sơ khám bệnh" can show the patient's share and take payment."""

from __future__ import annotations

from typing import Any

import pytest

from health_f0.his.adapters import xml_4750 as x
from health_f0.his.models import HisVisit
from health_f0.his.tests.conftest import ttyt  # noqa: F401 - fixture
from health_f0.his.tests.test_xml import envelope, linked, run, xml1  # noqa: F401 - fixtures and builders


def test_xml1_totals_are_read_in_whole_dong() -> None:
    assert x.bill_from_xml1(
        {"T_TONGCHI": "480000.00", "T_BHTT": "384000", "T_BNCCT": "96000", "T_BNTT": "0"}
    ) == (
        480_000,
        384_000,
        96_000,
    )
    assert x.bill_from_xml1({"T_TONGCHI": "150000,5", "T_BNTT": "150000"}) == (150_000, None, 150_000)
    assert x.bill_from_xml1({}) == (None, None, None)
    with pytest.raises(x.RecordError):
        x.bill_from_xml1({"T_TONGCHI": "-5"})
    with pytest.raises(x.RecordError):
        x.bill_from_xml1({"T_BHTT": "mười nghìn"})


def test_the_import_stores_the_bill_on_the_visit(ttyt: Any, linked: Any) -> None:  # noqa: F811
    data = envelope(
        [
            [xml1("LK-BILL-1", T_TONGCHI="480000", T_BHTT="384000", T_BNCCT="96000", T_BNTT="0")],
            [xml1("LK-BILL-2")],
        ]
    )
    result = run(ttyt, data)
    assert result.imported_count == 2, result.errors
    billed = HisVisit.objects.get(external_id="LK-BILL-1")
    assert (billed.bill_total, billed.bill_insurance, billed.bill_patient) == (480_000, 384_000, 96_000)
    unbilled = HisVisit.objects.get(external_id="LK-BILL-2")
    assert (unbilled.bill_total, unbilled.bill_patient) == (None, None)
