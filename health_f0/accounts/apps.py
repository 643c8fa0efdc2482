from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Sign-in, sessions, passwords, two-factor authentication and login lockout, for the desk, the portal and
    the API alike (the pages live on their surfaces: desk/two_factor.py, www/, api/)."""

    name = "health_f0.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Login receivers: the session's kind and start (session_policy), whether it needs a code (two_factor).
        from health_f0.accounts import session_policy, two_factor  # noqa: F401
