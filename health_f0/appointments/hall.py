"""The waiting-hall display's data and its spoken calls.

The hall screen (views.queue_display) polls `hall_state` every few seconds: per service under the facility
(never an online consultation), the number being called, the numbers called before it and the next few,
and an `announcement` (its key changes on every call and recall of the number, so the screen chimes, flashes
and speaks it once). No names, no phone numbers: a hall shows queue numbers only.

Spoken calls ("Mời số 15 đến quầy 2") are made on the server by espeak-ng's Vietnamese voice (a Debian
package, installed by scripts/setup.sh) and cached per text under VAR_DIR/hall-speech as WAV files. The
audio endpoint only serves the speech of an announcement the facility's hall shows right now, so nobody can
make the server speak (or store) text of their choosing. Without espeak-ng the screen still chimes and
flashes; `speech` is then null.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse

from health_f0.appointments import selectors
from health_f0.facilities.models import Facility

log = logging.getLogger(__name__)

VOICE = "vi"
WORDS_PER_MINUTE = 135
SPEECH_TIMEOUT_SECONDS = 10
POLL_SECONDS = 3


def speech_dir() -> Path:
    return Path(getattr(settings, "HALL_SPEECH_DIR", settings.VAR_DIR / "hall-speech"))


def espeak() -> str | None:
    return shutil.which("espeak-ng")


def announcement_text(number: int, call_point: str) -> str:
    """What the hall says and shows. Always Vietnamese, whatever the page's language: the voice is
    Vietnamese and so is the hall."""
    return f"Mời số {number} đến {call_point}"


def speech_key(text: str) -> str:
    """The cache key of a spoken text (voice and rate included: changing them makes new files)."""
    return hashlib.sha256(f"{VOICE}|{WORDS_PER_MINUTE}|{text}".encode()).hexdigest()[:32]


def speech_file(text: str) -> Path | None:
    """The WAV file of `text` spoken in Vietnamese: from the cache, else made now by espeak-ng (written to a
    temporary file and renamed, so a reader never sees half a file). None when espeak-ng is missing or fails."""
    target = speech_dir() / f"{speech_key(text)}.wav"
    if target.exists():
        return target
    program = espeak()
    if program is None:
        return None
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".wav", dir=target.parent)
    os.close(handle)
    try:
        # The text is ours (announcement_text: a queue number and a configured place), passed as one argument
        # after "--" without a shell.
        subprocess.run(  # noqa: S603
            [program, "-v", VOICE, "-s", str(WORDS_PER_MINUTE), "-w", temporary, "--", text],
            check=True,
            capture_output=True,
            timeout=SPEECH_TIMEOUT_SECONDS,
        )
        os.replace(temporary, target)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("hall speech failed: %s", type(exc).__name__)
        Path(temporary).unlink(missing_ok=True)
        return None
    return target


def hall_state(*, facility: Facility, day: date | None = None) -> dict[str, Any]:
    """The hall screen's data as JSON: rows per service (numbers only) with the current announcement."""
    rows = []
    speaks = espeak() is not None
    for row in selectors.queue_display(facility=facility, day=day):
        announcement = None
        if row.now_calling is not None and row.announced_at is not None:
            text = announcement_text(row.now_calling, row.call_point)
            key = speech_key(text)
            announcement = {
                # New on every call and every recall: the screen announces once per key.
                "id": f"{row.now_calling}-{int(row.announced_at.timestamp() * 1000)}",
                "text": text,
                "speech": reverse("appointments:queue_display_speech", args=[facility.code, key])
                if speaks
                else None,
            }
        rows.append(
            {
                "service": row.service_name,
                "room": row.room,
                "now_calling": row.now_calling,
                "recent": row.recent,
                "next": row.next_numbers,
                "announcement": announcement,
            }
        )
    return {"rows": rows}


def current_speech(*, facility: Facility, key: str, day: date | None = None) -> Path | None:
    """The spoken call with this key if the facility's hall is announcing it now (else None)."""
    for row in selectors.queue_display(facility=facility, day=day):
        if row.now_calling is None:
            continue
        text = announcement_text(row.now_calling, row.call_point)
        if speech_key(text) == key:
            return speech_file(text)
    return None
