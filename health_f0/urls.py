from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def guidance_pdf(request: HttpRequest, path: str) -> HttpResponseBase:
    return serve(request, path, document_root=str(settings.MEDIA_ROOT / "guidance"))


urlpatterns = [
    path("desk/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("health_f0.api.urls")),
    path("hooks/", include("health_f0.notifications.urls")),
    path("bao-cao/", include("health_f0.reports.urls")),
    # Guidance PDFs are public documents uploaded in the desk; nothing else under media/ is served.
    re_path(r"^media/guidance/(?P<path>[\w.-]+\.pdf)$", guidance_pdf),
    path("i18n/", include("django.conf.urls.i18n")),
    path("hang-doi/", include("health_f0.appointments.urls")),
    path("", include("health_f0.www.urls")),
]

handler404 = "health_f0.www.views.page_not_found"
