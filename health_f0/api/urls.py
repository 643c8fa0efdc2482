from django.urls import path

from health_f0.api.apis import (
    accounts,
    appointments,
    his,
    monitoring,
    notifications,
    payments,
    privacy,
    public,
    registrations,
    stations,
)

app_name = "api"

urlpatterns = [
    path("registration-form", public.RegistrationFormApi.as_view(), name="registration-form"),
    path("provinces", public.ProvinceListApi.as_view(), name="provinces"),
    path("provinces/<str:code>/wards", public.WardListApi.as_view(), name="wards"),
    path("otp", public.OtpRequestApi.as_view(), name="otp"),
    path("registrations", registrations.RegistrationCollectionApi.as_view(), name="registrations"),
    path("registrations/<str:id>", registrations.RegistrationDetailApi.as_view(), name="registration"),
    path(
        "registrations/<str:id>/accept",
        registrations.RegistrationAcceptApi.as_view(),
        name="registration-accept",
    ),
    path(
        "registrations/<str:id>/reject",
        registrations.RegistrationRejectApi.as_view(),
        name="registration-reject",
    ),
    path(
        "registrations/<str:id>/transfer",
        registrations.RegistrationTransferApi.as_view(),
        name="registration-transfer",
    ),
    path("stations", stations.StationListApi.as_view(), name="stations"),
    path("auth/token", accounts.TokenCreateApi.as_view(), name="auth-token"),
    path("auth/logout", accounts.TokenDeleteApi.as_view(), name="auth-logout"),
    path("auth/password", accounts.PasswordChangeApi.as_view(), name="auth-password"),
    path("me", accounts.MeApi.as_view(), name="me"),
    path("me/family", accounts.FamilyMemberCreateApi.as_view(), name="me-family"),
    path(
        "me/notification-channel",
        notifications.MeNotificationChannelApi.as_view(),
        name="me-notification-channel",
    ),
    path("questionnaire", monitoring.QuestionnaireApi.as_view(), name="questionnaire"),
    path("declarations", monitoring.DeclarationCollectionApi.as_view(), name="declarations"),
    path("guidance", monitoring.GuidanceListApi.as_view(), name="guidance-list"),
    path("guidance/<str:id>", monitoring.GuidanceDetailApi.as_view(), name="guidance"),
    path("episodes", monitoring.EpisodeListApi.as_view(), name="episodes"),
    path(
        "episodes/<str:id>/certificate.pdf",
        monitoring.EpisodeCertificateApi.as_view(),
        name="episode-certificate",
    ),
    path("alerts", monitoring.AlertListApi.as_view(), name="alerts"),
    path("alerts/<str:id>/acknowledge", monitoring.AlertAcknowledgeApi.as_view(), name="alert-acknowledge"),
    path("facilities", appointments.FacilityListApi.as_view(), name="booking-facilities"),
    path(
        "facilities/<str:id>/services",
        appointments.FacilityServiceListApi.as_view(),
        name="booking-facility-services",
    ),
    path("slots", appointments.SlotListApi.as_view(), name="booking-slots"),
    path(
        "services/<str:id>/doctors",
        appointments.ServiceDoctorListApi.as_view(),
        name="booking-service-doctors",
    ),
    path("appointments", appointments.AppointmentCollectionApi.as_view(), name="appointments"),
    path("appointments/guest", appointments.GuestBookingApi.as_view(), name="appointment-guest"),
    path("appointments/<str:id>", appointments.AppointmentDetailApi.as_view(), name="appointment"),
    path(
        "appointments/<str:id>/calendar.ics",
        appointments.AppointmentCalendarApi.as_view(),
        name="appointment-calendar",
    ),
    path(
        "appointments/<str:id>/cancel",
        appointments.AppointmentCancelApi.as_view(),
        name="appointment-cancel",
    ),
    path(
        "appointments/<str:id>/reschedule",
        appointments.AppointmentRescheduleApi.as_view(),
        name="appointment-reschedule",
    ),
    path(
        "staff/appointments",
        appointments.StaffAppointmentListApi.as_view(),
        name="staff-appointments",
    ),
    path(
        "staff/appointments/<str:id>/confirm",
        appointments.StaffAppointmentConfirmApi.as_view(),
        name="staff-appointment-confirm",
    ),
    path(
        "staff/appointments/<str:id>/decline",
        appointments.StaffAppointmentDeclineApi.as_view(),
        name="staff-appointment-decline",
    ),
    path("staff/check-in", appointments.StaffCheckInApi.as_view(), name="staff-check-in"),
    path(
        "staff/queue/<str:id>/next",
        appointments.StaffQueueNextApi.as_view(),
        name="staff-queue-next",
    ),
    path("his-links", his.HisLinkCollectionApi.as_view(), name="his-links"),
    path("visits", his.HisVisitListApi.as_view(), name="his-visits"),
    path("lab-results", his.HisLabResultListApi.as_view(), name="his-lab-results"),
    path("privacy/policy", privacy.PolicyApi.as_view(), name="privacy-policy"),
    path("privacy/consent", privacy.ConsentApi.as_view(), name="privacy-consent"),
    path("privacy/export", privacy.ExportJsonApi.as_view(), name="privacy-export"),
    path("privacy/exports", privacy.ExportCollectionApi.as_view(), name="privacy-exports"),
    path("privacy/exports/<str:id>", privacy.ExportDetailApi.as_view(), name="privacy-export-status"),
    path("privacy/exports/<str:id>/file", privacy.ExportFileApi.as_view(), name="privacy-export-file"),
    path("privacy/requests", privacy.DataRequestCollectionApi.as_view(), name="privacy-requests"),
    path(
        "privacy/requests/<str:id>/cancel",
        privacy.DataRequestCancelApi.as_view(),
        name="privacy-request-cancel",
    ),
]

# Sign-up and forgot password (issue 12, section 1).
urlpatterns += [
    path("accounts", accounts.AccountCreateApi.as_view(), name="accounts"),
    path("auth/password-reset", accounts.PasswordResetApi.as_view(), name="auth-password-reset"),
    path("payments", payments.PaymentCollectionApi.as_view(), name="payments"),
    path("payments/<str:id>", payments.PaymentDetailApi.as_view(), name="payment"),
    path("payments/<str:id>/receipt.pdf", payments.PaymentReceiptApi.as_view(), name="payment-receipt"),
]
