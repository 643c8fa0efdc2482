from django.urls import path

from health_f0.www import appointment_views, family_views, his_views, monitoring_views, privacy_views, views
from health_f0.www.payment_receipt_views import receipt_download
from health_f0.www.short_link_views import short_link, walk_in_ticket

app_name = "www"

urlpatterns = [
    path("", views.home, name="home"),
    path("dang-ky", views.register, name="register"),
    path("dang-ky/da-gui/<uuid:public_id>", views.register_done, name="register_done"),
    path("dia-ban/phuong-xa", views.wards, name="wards"),
    path("chinh-sach-du-lieu", privacy_views.policy, name="privacy"),
    path("dong-y-chinh-sach", privacy_views.consent, name="privacy_consent"),
    path("du-lieu-cua-toi", privacy_views.my_data, name="my_data"),
    path("du-lieu-cua-toi/du-lieu.json", privacy_views.export_json, name="my_data_json"),
    path("du-lieu-cua-toi/ban-pdf", privacy_views.export_pdf, name="my_data_pdf_create"),
    path(
        "du-lieu-cua-toi/ban-pdf/<uuid:public_id>.pdf", privacy_views.export_pdf_download, name="my_data_pdf"
    ),
    path(
        "du-lieu-cua-toi/yeu-cau/<uuid:public_id>/huy",
        privacy_views.request_cancel,
        name="my_data_request_cancel",
    ),
    path("dang-nhap", views.login_view, name="login"),
    path("dang-xuat", views.logout_view, name="logout"),
    path("tai-khoan/doi-mat-khau", views.password_change, name="password_change"),
    path("ca-nhan", views.me, name="me"),
    path("ca-nhan/nguoi-thay-mat", family_views.family, name="family"),
    path("khai-bao", monitoring_views.declare, name="declare"),
    path("khai-bao/ket-qua/<uuid:public_id>", monitoring_views.declare_result, name="declare_result"),
    path("lich-su", monitoring_views.history, name="history"),
    path("huong-dan", monitoring_views.guidance_list, name="guidance_list"),
    path("huong-dan/<uuid:public_id>", monitoring_views.guidance_detail, name="guidance_detail"),
    path(
        "ca-nhan/giay-xac-nhan/<uuid:public_id>.pdf",
        monitoring_views.certificate_download,
        name="certificate_download",
    ),
    path("ca-nhan/bien-lai/<uuid:public_id>.pdf", receipt_download, name="payment_receipt"),
    path("xac-minh/<str:code>", monitoring_views.certificate_verify, name="certificate_verify"),
    path("dat-lich", appointment_views.book, name="book"),
    path("lich-hen", appointment_views.appointment_list, name="appointments"),
    path("lich-hen/<uuid:public_id>", appointment_views.appointment_detail, name="appointment"),
    path("lich-hen/<uuid:public_id>/huy", appointment_views.appointment_cancel, name="appointment_cancel"),
    path(
        "lich-hen/<uuid:public_id>/lich.ics", appointment_views.appointment_calendar, name="appointment_ics"
    ),
    path(
        "lich-hen/<uuid:public_id>/doi-lich",
        appointment_views.appointment_reschedule,
        name="appointment_reschedule",
    ),
    path("h/<str:code>", short_link, name="short_link"),
    path("so-thu-tu/<uuid:public_id>", walk_in_ticket, name="ticket"),
    path("lien-ket-ho-so", his_views.his_links, name="his_links"),
    path("lien-ket-ho-so/<uuid:public_id>/phieu-lien-ket.pdf", his_views.his_link_form, name="his_link_form"),
    path("lien-ket-ho-so/<uuid:public_id>/huy", his_views.his_unlink, name="his_unlink"),
    path("ho-so-kham", his_views.his_visits, name="his_visits"),
    path("ho-so-kham/in", his_views.his_print, name="his_print"),
    path("ket-qua-xet-nghiem", his_views.his_lab_results, name="his_lab_results"),
]

# Accounts for every resident (issue 12, section 1): sign-up, forgot password, family members.
from health_f0.www import account_views  # noqa: E402

urlpatterns += [
    path("dang-ky-tai-khoan", account_views.signup_view, name="signup"),
    path("tai-khoan/da-mo", account_views.signup_done, name="signup_done"),
    path("quen-mat-khau", account_views.password_reset, name="password_reset"),
    path("quen-mat-khau/xong", account_views.password_reset_done, name="password_reset_done"),
    path("ca-nhan/them-nguoi-nha", account_views.family_add, name="family_add"),
]
