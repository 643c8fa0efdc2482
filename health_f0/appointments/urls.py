from django.urls import path

from health_f0.appointments import views

app_name = "appointments"

urlpatterns = [
    path("<str:code>/", views.queue_display, name="queue_display"),
]
