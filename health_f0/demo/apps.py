from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo province (`manage.py seed_demo`): composes every domain's services, so it lives outside them."""

    name = "health_f0.demo"
    label = "demo"
