"""Static files (issue 9, item 21): hashed names served compressed with a long cache, and a desk page that
loads only what a clerk's browser needs (no chart.js, no Inter web fonts, no slug helpers)."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.http import HttpResponse
from django.templatetags.static import static
from django.test import Client, RequestFactory
from whitenoise.middleware import WhiteNoiseMiddleware

ROOT = Path(__file__).resolve().parents[1]
HASHED_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


def production_settings(tmp_path: Path) -> dict[str, Any]:
    """The static settings of a server process (gunicorn, manage.py): not DEBUG, not under pytest."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "PYTEST_CURRENT_TEST")}
    env.update(DJANGO_SETTINGS_MODULE="health_f0.settings", VAR_DIR=str(tmp_path / "var"))
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps({'backend': s.STORAGES['staticfiles']['BACKEND'], "
        "'finders': s.WHITENOISE_USE_FINDERS, 'root': str(s.STATIC_ROOT)}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_server_serves_hashed_files_from_static_root(tmp_path: Path) -> None:
    found = production_settings(tmp_path)
    assert found["backend"] == HASHED_STORAGE
    # Served from what collectstatic wrote (with its .gz/.br copies), not from the apps' plain files.
    assert found["finders"] is False
    assert found["root"] == str(tmp_path / "var" / "static")


@pytest.fixture
def collected(settings: Any, tmp_path: Path, db: Any) -> Path:
    """collectstatic with the server's storage, over the portal's own static files (a small, real set).

    `db`: closing a response sends request_finished, which looks at the database connection."""
    settings.DEBUG = False
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": HASHED_STORAGE}}
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STATICFILES_DIRS = [ROOT / "health_f0" / "www" / "static"]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False
    call_command("collectstatic", interactive=False, verbosity=0)
    return settings.STATIC_ROOT


def serve(url: str, accept_encoding: str | None) -> tuple[HttpResponse, bytes]:
    middleware = WhiteNoiseMiddleware(lambda request: HttpResponse("not static", status=404))
    headers = {"HTTP_ACCEPT_ENCODING": accept_encoding} if accept_encoding else {}
    response = middleware(RequestFactory().get(url, **headers))
    body = b"".join(response.streaming_content) if response.streaming else response.content
    response.close()
    return response, body


def max_age(response: HttpResponse) -> int:
    match = re.search(r"max-age=(\d+)", response["Cache-Control"])
    assert match, response["Cache-Control"]
    return int(match.group(1))


def test_hashed_static_url_is_served_compressed_and_cached_for_a_year(collected: Path) -> None:
    original = (ROOT / "health_f0" / "www" / "static" / "www" / "site.css").read_bytes()
    url = static("www/site.css")
    assert re.fullmatch(r"/static/www/site\.[0-9a-f]{12}\.css", url), url

    response, body = serve(url, "gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == original
    assert len(body) < len(original) / 2
    assert "immutable" in response["Cache-Control"]
    assert max_age(response) >= 365 * 24 * 3600
    assert "Accept-Encoding" in response["Vary"]

    pytest.importorskip("brotli")
    response, body = serve(url, "gzip, deflate, br")
    assert response["Content-Encoding"] == "br"
    assert "immutable" in response["Cache-Control"]

    # A client that accepts no compression gets the file as it is.
    response, body = serve(url, None)
    assert response.status_code == 200
    assert not response.has_header("Content-Encoding")
    assert body == original


def test_the_plain_name_is_not_cached_for_long(collected: Path) -> None:
    """Only a name that changes with the content may be kept for a year."""
    response, _ = serve("/static/www/site.css", "gzip")
    assert response.status_code == 200
    assert "immutable" not in response["Cache-Control"]
    assert max_age(response) <= 3600


@pytest.mark.parametrize("username", ["thanhdong.nv", "admin"])
def test_desk_page_loads_only_what_a_clerk_needs(persona: Any, username: str) -> None:
    client = Client()
    client.force_login(persona(username))
    response = client.get("/desk/", follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    # unfold's skeleton is ours (health_f0/desk/templates/unfold/layouts/skeleton.html) ...
    assert "unfold/css/styles" in html
    assert "unfold/js/alpine/alpine" in html
    assert "--font-sans: system-ui" in html
    # ... without Chart.js (the reports draw SVG on the server) and the Inter web fonts ...
    assert "chart.js" not in html and "unfold/js/chart/" not in html
    assert "fonts/inter" not in html
    # ... keeping the icons.
    assert "fonts/material-symbols/styles" in html
    # Desk lists and forms prepopulate nothing: no slug helpers (XRegExp alone is 160 KB).
    assert "admin/js/actions" in html
    for script in ("xregexp", "urlify", "admin/js/prepopulate.js"):
        assert script not in html


def test_a_change_form_loads_no_slug_helpers(persona: Any) -> None:
    client = Client()
    client.force_login(persona("admin"))
    response = client.get("/desk/facilities/facility/add/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "admin/js/core" in html
    for script in ("xregexp", "urlify", "admin/js/prepopulate.js"):
        assert script not in html
