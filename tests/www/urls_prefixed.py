"""The product's URLs under /p/ (tests/www/test_portal_chrome.py: reversed names follow the urlconf)."""

from django.urls import include, path

urlpatterns = [path("p/", include("health_f0.urls"))]
