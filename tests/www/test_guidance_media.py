"""Guidance PDFs uploaded in the desk are downloadable; nothing else under media/ is."""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile

from health_f0.monitoring.models import GuidanceDocument


def test_guidance_pdf_served_and_other_media_not(client: Any, settings: Any, tmp_path: Any, db: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    doc = GuidanceDocument.objects.create(title="Hướng dẫn")
    doc.pdf.save("huong-dan.pdf", ContentFile(b"%PDF-1.4 test"))
    (tmp_path / "secret.txt").write_text("x")
    assert doc.pdf.url.startswith("/media/guidance/")
    response = client.get(doc.pdf.url)
    assert response.status_code == 200 and b"".join(response.streaming_content).startswith(b"%PDF")
    assert client.get("/media/secret.txt").status_code == 404
    assert client.get("/media/guidance/../secret.txt").status_code == 404
