"""Webhooks called by SMS gateways (mounted at /hooks/)."""

from django.urls import path

from health_f0.notifications import views

app_name = "hooks"

urlpatterns = [
    path("esms/<str:token>", views.esms_callback, name="esms-callback"),
    path("zalo", views.zns_webhook, name="zns-webhook"),
]
