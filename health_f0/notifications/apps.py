from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "health_f0.notifications"
    label = "notifications"
    verbose_name = "Tin nhắn"
