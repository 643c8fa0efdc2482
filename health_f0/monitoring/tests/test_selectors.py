"""Board and silent list for one station: scoped, counted right, constant query count."""

from __future__ import annotations

from datetime import UTC, datetime

from health_f0.facilities.models import Facility
from health_f0.monitoring.selectors import BoardFilters, board_episodes, board_summary, silent_episodes
from health_f0.monitoring.services import declaration_submit, reset_caches
from health_f0.patients.models import Patient

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 08:00 local
TODAY = NOW.date()


def test_board_counts_and_scope(demo, persona, django_assert_max_num_queries):
    reset_caches()
    station = Facility.objects.get(code="TYT-10510")
    patient = Patient.objects.get(account__username="bn0000001")
    nurse, other = persona("thanhdong.nv"), persona("lethanhnghi.nv")
    summary = board_summary(user=nurse, facility=station, today=TODAY)
    assert (summary.active, summary.declared, summary.silent) == (1, 0, 1)
    assert [e.patient_id for e in silent_episodes(user=nurse, facility=station, today=TODAY)] == [patient.pk]
    declaration_submit(patient=patient, actor=patient.account, answers={"temperature": "38.5"}, now=NOW)
    summary = board_summary(user=nurse, facility=station, today=TODAY)
    assert (summary.declared, summary.silent, summary.open_alerts["watch"]) == (1, 0, 1)
    assert list(silent_episodes(user=nurse, facility=station, today=TODAY)) == []
    with django_assert_max_num_queries(4):
        rows = list(
            board_episodes(
                user=nurse, facility=station, today=TODAY, filters=BoardFilters(alert_level="watch")
            )
        )
        assert [r.patient.full_name for r in rows] == ["Nguyễn Văn Hùng"]
    # Another station's nurse sees nothing of this station.
    assert board_summary(user=other, facility=station, today=TODAY).active == 0
    assert list(board_episodes(user=other, facility=station, today=TODAY)) == []
