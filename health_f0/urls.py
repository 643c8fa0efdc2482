from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import include, path, re_path
from django.utils import timezone
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView


def guidance_pdf(request: HttpRequest, path: str) -> HttpResponseBase:
    return serve(request, path, document_root=str(settings.MEDIA_ROOT / "guidance"))


def security_txt(request: HttpRequest) -> HttpResponse:
    """RFC 9116: where to report a vulnerability (docs/security.md). Contact from SECURITY_CONTACT."""
    expires = (timezone.now() + timedelta(days=180)).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [f"Contact: {contact}" for contact in settings.SECURITY_CONTACT]
    lines += [
        f"Expires: {expires}",
        "Preferred-Languages: vi, en",
        f"Canonical: {settings.PORTAL_URL}/.well-known/security.txt",
    ]
    response = HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response


urlpatterns = [
    path(".well-known/security.txt", security_txt, name="security-txt"),
    path("desk/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (Content-Security-Policy).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("health_f0.api.urls")),
    # v2: the same views; lists page by keyset cursor (health_f0/api/versioning.py).
    path("api/v2/", include("health_f0.api.urls", namespace="api-v2")),
    path("hooks/", include("health_f0.notifications.urls")),
    path("bao-cao/", include("health_f0.reports.urls")),
    # Guidance PDFs are public documents uploaded in the desk; nothing else under media/ is served.
    re_path(r"^media/guidance/(?P<path>[\w.-]+\.pdf)$", guidance_pdf),
    path("i18n/", include("django.conf.urls.i18n")),
    path("hang-doi/", include("health_f0.appointments.urls")),
    path("thanh-toan/", include("health_f0.www.payment_urls")),
    path("", include("health_f0.www.urls")),
]

# Under /api/ every error is the API's JSON error body; a database that is away answers 503 (core/db_health.py).
handler400 = "health_f0.core.db_health.bad_request"
handler403 = "health_f0.core.db_health.permission_denied"
handler404 = "health_f0.core.db_health.page_not_found"
handler500 = "health_f0.core.db_health.server_error"
