from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountingConfig(AppConfig):
    name = "health_f0.accounting"
    label = "accounting"
    verbose_name = _("Kế toán")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from health_f0.accounting.audit_labels import ACCOUNTING_VOCABULARY
        from health_f0.core.audit import audit_vocabulary_register

        audit_vocabulary_register(self.label, ACCOUNTING_VOCABULARY)
