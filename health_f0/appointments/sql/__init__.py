"""Constant SQL of the appointment lists (issue 11), one module per list (model: health_f0/monitoring/sql/).
Each module holds its statement pieces (`core.sqllist.SqlColumns`, FROM, WHERE) and the function that builds
the list, with the measurement that justified leaving the ORM in its docstring. The scope rules stay
facilities/access.py's (this package only calls their SQL writers); nothing else in appointments writes SQL
by hand.

- `worklist`: the booking desk's list (GET /api/v1|v2/staff/appointments), with the page's patients,
  services, rooms and doctors joined and each patient's completed visits and no-shows.
- `bookings`: the patient's own and family's bookings (GET /api/v1|v2/appointments).

Tests compare each list with the ORM query it replaces (health_f0/appointments/tests/test_sql_lists.py).
"""
