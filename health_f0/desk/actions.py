"""The one action helper of the desk (model: HackSoft's `ApiErrorsMixin` and its one-line admin actions).

A desk page that changes something is a few lines: it checks its role, finds the scoped record, and hands the
service call to `desk_action`, which

- allows only POST (a GET answers 405: a link or a prefetch never changes state),
- runs the call, and maps a `DomainError` to a form error on the field it names (when a form is given) or to a
  message ("<what was refused>: <why>"), a success to the success message,
- redirects to the `next=` the form was posted from when it is a local desk path, else to the fallback.

`dialog_action` does the same for a step taken from an unfold action dialog (a refusal on one of the dialog's
fields shows the dialog again). `form_error_messages` puts a form's errors into messages (the desk's GET filters and small POST forms).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect

from health_f0.core.exceptions import DomainError

DESK_PREFIX = "/desk/"


def safe_next(request: HttpRequest, fallback: str) -> str:
    """Back to the desk page the form was posted from (only a local /desk/ path is followed)."""
    target = request.POST.get("next", "") or request.GET.get("next", "")
    if target.startswith(DESK_PREFIX) and "//" not in target and "\\" not in target:
        return target
    return fallback


def form_errors(form: forms.BaseForm) -> list[str]:
    """Every error of a bound form, as text (field errors first, in field order)."""
    return [str(error) for errors in form.errors.values() for error in errors]


def form_error_messages(request: HttpRequest, form: forms.BaseForm) -> None:
    for error in form_errors(form):
        messages.error(request, error)


def run(
    request: HttpRequest,
    call: Callable[[], Any],
    *,
    success: str | Callable[[Any], str] | None = None,
    refused: str | None = None,
    form: forms.BaseForm | None = None,
) -> tuple[bool, Any]:
    """Run a service call for a desk page. Returns (done, result). A DomainError naming a field of `form`
    becomes that field's error (the page re-renders the form); any other becomes a message, prefixed with
    `refused` ("Chưa từ chối lịch của X") when given."""
    try:
        result = call()
    except DomainError as exc:
        if form is not None and exc.field and exc.field in form.fields:
            form.add_error(exc.field, exc.message)
        elif refused:
            messages.error(request, f"{refused}: {exc.message}")
        else:
            messages.error(request, exc.message)
        return False, None
    if success is not None:
        messages.success(request, success(result) if callable(success) else success)
    return True, result


def desk_action(
    request: HttpRequest,
    call: Callable[[], Any],
    *,
    fallback: str,
    success: str | Callable[[Any], str] | None = None,
    refused: str | None = None,
) -> HttpResponse:
    """A one-line desk action: POST only, run the call (errors become messages), go back to `next=`."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    run(request, call, success=success, refused=refused)
    return HttpResponseRedirect(safe_next(request, fallback))


def dialog_action(
    request: HttpRequest,
    call: Callable[[], Any],
    *,
    form: forms.BaseForm,
    dialog: Any,
    fallback: str,
    success: str | Callable[[Any], str] | None = None,
) -> HttpResponse:
    """A step taken from an unfold action dialog (the dialog's form already valid): run the call; a refusal
    naming one of the form's fields shows the dialog again with that error, any other becomes a message; then
    back to `fallback` (a full-page redirect, also from an htmx dialog)."""
    from django.shortcuts import render

    from health_f0.desk.site import redirect_back

    done, _result = run(request, call, success=success, form=form)
    if not done and form.errors:
        return render(request, "unfold/helpers/dialog.html", {"dialog": dialog, "form": form})
    return redirect_back(request, fallback)


def post_only(request: HttpRequest) -> HttpResponse | None:
    """405 for anything but POST, else None: `if (refused := post_only(request)): return refused`."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return None
