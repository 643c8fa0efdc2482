"""The desk pages of personal-data rights (see docs/architecture.md): the request worklist (`requests`), the
consent records, policy versions and retention runs (`records`). Importing the package registers them."""

from health_f0.privacy.desk import records, requests  # noqa: F401
