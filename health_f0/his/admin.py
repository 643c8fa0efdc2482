"""HIS linking in the desk: the pages live in health_f0.his.desk; imported here so that Django's admin
autodiscover registers them with the desk site."""

from health_f0.his.desk import links, records, requests, uploads  # noqa: F401 - registers the desk pages
