"""Accounting in the desk: the pages live in health_f0.accounting.desk; imported here so that Django's admin
autodiscover registers them with the desk site."""

from health_f0.accounting.desk import reconciliations  # noqa: F401 - registers the desk pages
