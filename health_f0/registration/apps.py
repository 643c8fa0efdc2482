from django.apps import AppConfig


class RegistrationConfig(AppConfig):
    name = "health_f0.registration"
    label = "registration"
    verbose_name = "Đăng ký F0"
