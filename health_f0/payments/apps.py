from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "health_f0.payments"
    label = "payments"
    verbose_name = _("Thanh toán")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from health_f0.payments.models import GatewayAccount, ServicePaymentPolicy

        def forget(sender: object, instance: ServicePaymentPolicy, **kwargs: object) -> None:
            from health_f0.payments.selectors import forget_required_prepayment

            forget_required_prepayment(instance.service_id)

        post_save.connect(
            forget, sender=ServicePaymentPolicy, dispatch_uid="payments-policy-saved", weak=False
        )
        post_delete.connect(
            forget, sender=ServicePaymentPolicy, dispatch_uid="payments-policy-deleted", weak=False
        )

        def forget_accounts(sender: object, instance: GatewayAccount, **kwargs: object) -> None:
            from health_f0.payments.selectors import forget_active_accounts

            forget_active_accounts()

        for signal, uid in ((post_save, "saved"), (post_delete, "deleted")):
            signal.connect(
                forget_accounts, sender=GatewayAccount, dispatch_uid=f"payments-account-{uid}", weak=False
            )
