from django.urls import path

from health_f0.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("theo-doi-tai-nha/", views.home_care, name="home_care"),
    path("theo-doi-tai-nha/xlsx/", views.home_care_xlsx, name="home_care_xlsx"),
]

# Appointment report (issue 4).
from health_f0.reports import appointments_views  # noqa: E402

urlpatterns += [
    path("lich-hen/", appointments_views.appointments, name="appointments"),
    path("lich-hen/xlsx/", appointments_views.appointments_xlsx, name="appointments_xlsx"),
]

# HIS linking report (issue 5).
from health_f0.reports import his_views  # noqa: E402

urlpatterns += [
    path("lien-ket-his/", his_views.his_links, name="his_links"),
    path("lien-ket-his/xlsx/", his_views.his_links_xlsx, name="his_links_xlsx"),
]
