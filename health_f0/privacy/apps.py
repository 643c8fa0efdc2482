from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "health_f0.privacy"
    label = "privacy"
    verbose_name = _("Bảo vệ dữ liệu cá nhân")
    default_auto_field = "django.db.models.BigAutoField"
