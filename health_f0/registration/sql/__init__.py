"""Constant SQL of the registration domain, one module per table (as monitoring/sql/). Callers
(registration.selectors) import these functions; nothing else in registration writes SQL by hand.

- `registrations`: registration_registration — the staff queue as a list (GET /api/v1|v2/registrations).

The scope rule is facilities.access's (written out by `access.facility_scope_sql`); values go through the
fields' own converters (core/sqllist.py), so these run on MariaDB and SQLite alike.
"""
