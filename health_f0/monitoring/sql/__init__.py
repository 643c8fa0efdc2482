"""Constant SQL of the declaration hot path, the reminder fan-out and the API's hot lists, one module per table
(model: Zulip's zerver/lib/user_message.py). Each module holds its statements and the small functions that run
them, with the benchmark that justified leaving the ORM in its docstring. Callers (monitoring.services,
.selectors, .reminders) import these functions; nothing else in monitoring writes SQL by hand.

- `alerts`: monitoring_alert — the staff's open alerts as a list (GET /alerts).
- `declarations`: monitoring_declaration — the stored row for an idempotency key, the 96-hour history,
  the INSERT.
- `episodes`: monitoring_episode — the active episode, the "declared today" UPDATE with the daily cap; the
  account's episodes as a list (GET /episodes).
- `patients`: patients_patient — the patient an account declares for (the family rule is
  facilities.access.own_or_family_sql, not restated here).
- `reminders`: monitoring_reminderlog and notifications_outboxmessage — the fan-out's multi-row INSERT.

Values go through the fields' own converters (core/rawsql.py), so these run on MariaDB and SQLite alike.
"""
