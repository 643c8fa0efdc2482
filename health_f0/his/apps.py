from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HisConfig(AppConfig):
    name = "health_f0.his"
    label = "his"
    verbose_name = _("Liên kết HIS")
    default_auto_field = "django.db.models.BigAutoField"
