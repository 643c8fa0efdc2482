from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "health_f0.api"
    label = "api"

    def ready(self) -> None:
        # Registers the OpenAPI description of the bearer-token authentication.
        from health_f0.api import schema  # noqa: F401
