"""The desk pages of this domain (see docs/architecture.md): the appointment list and detail with its buttons
(`records`), the booking desk's worklist (`worklist`), booking by phone (`booking`), re-exams (`reexams`),
reception and the queue (`reception`), and the managers' configuration (`config`). Each module's views call
appointments.services and read through appointments.selectors; importing this package registers the models
with the desk site (appointments/admin.py imports it so Django's autodiscover finds it)."""

from health_f0.appointments.desk import config, records, reexams  # noqa: F401  (registers the model pages)
