from django.urls import path

from health_f0.reports.appointments import views as appointments
from health_f0.reports.his import views as his
from health_f0.reports.homecare import views as homecare
from health_f0.reports.payments import views as payments

app_name = "reports"
urlpatterns = [
    path("", homecare.index, name="index"),
    path("theo-doi-tai-nha/", homecare.home_care, name="home_care"),
    path("theo-doi-tai-nha/xlsx/", homecare.home_care_xlsx, name="home_care_xlsx"),
    # Appointment report (issue 4).
    path("lich-hen/", appointments.appointments, name="appointments"),
    path("lich-hen/xlsx/", appointments.appointments_xlsx, name="appointments_xlsx"),
    # Appointment report per clinical department (issue 12 §4).
    path("lich-hen/theo-khoa/", appointments.appointment_departments, name="appointment_departments"),
    path(
        "lich-hen/theo-khoa/xlsx/",
        appointments.appointment_departments_xlsx,
        name="appointment_departments_xlsx",
    ),
    # HIS linking report (issue 5).
    path("lien-ket-his/", his.his_links, name="his_links"),
    path("lien-ket-his/xlsx/", his.his_links_xlsx, name="his_links_xlsx"),
    # Payments report (issue 13 §4).
    path("thanh-toan/", payments.payments, name="payments"),
    path("thanh-toan/xlsx/", payments.payments_xlsx, name="payments_xlsx"),
]
