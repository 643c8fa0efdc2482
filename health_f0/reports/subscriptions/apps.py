from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscriptionsConfig(AppConfig):
    """Scheduled report e-mails: the subscriptions, their deliveries, the sending job and their desk pages."""

    name = "health_f0.reports.subscriptions"
    label = "subscriptions"
    verbose_name = _("Báo cáo định kỳ qua e-mail")

    def ready(self) -> None:
        from health_f0.core.audit import audit_vocabulary_register
        from health_f0.reports.subscriptions.audit_labels import SUBSCRIPTION_VOCABULARY

        audit_vocabulary_register(self.label, SUBSCRIPTION_VOCABULARY)
