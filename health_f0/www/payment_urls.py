"""/thanh-toan/: the gateways' callbacks (IPN/webhook, the browser's return) and the patient's payment pages."""

from django.urls import path

from health_f0.www import payment_views

app_name = "payments"

urlpatterns = [
    path("lich-hen/<uuid:public_id>", payment_views.pay_booking, name="pay_booking"),
    path("luot-kham/<uuid:public_id>", payment_views.pay_visit, name="pay_visit"),
    path("ket-qua/<uuid:public_id>", payment_views.result, name="result"),
    path("trang-thai/<uuid:public_id>", payment_views.status_json, name="status"),
    # Server to server: VNPay and MoMo's IPN, payOS's (VietQR) webhook. Generic over the gateway registry.
    path("<slug:gateway>/ipn", payment_views.notify, name="notify"),
    path("<slug:gateway>/webhook", payment_views.notify, {"webhook": True}, name="webhook"),
    path("<slug:gateway>/return", payment_views.gateway_return, name="return"),
]
