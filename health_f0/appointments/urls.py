from django.urls import path

from health_f0.appointments import views

app_name = "appointments"

urlpatterns = [
    path("<str:code>/", views.queue_display, name="queue_display"),
    path("<str:code>/trang-thai/", views.queue_display_state, name="queue_display_state"),
    path("<str:code>/loa/<str:key>.wav", views.queue_display_speech, name="queue_display_speech"),
]
