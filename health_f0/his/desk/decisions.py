"""The HIS linker queue's buttons: link a request to a HIS record, reject it, ask the HIS again, find a record by
its HIS code; attach or dismiss a held XML record. Each is POST only (desk.actions), finds the record in the
user's scope and calls his.services / his.imports, which decide (workflow, roles, audit, SMS after commit);
errors come back as messages on the page the form was posted from (`next=`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext

from health_f0.desk.actions import desk_action, form_errors, post_only, run, safe_next
from health_f0.his import imports, selectors, services
from health_f0.his.forms import ApproveForm, DismissHeldForm, FindRecordForm, RejectForm
from health_f0.his.models import HisHeldRecord

if TYPE_CHECKING:
    from health_f0.his.desk.requests import HisLinkRequestAdmin


def _queue() -> str:
    return reverse("admin:his_link_queue")


def _with_form(
    request: HttpRequest,
    form_class: type[forms.Form],
    call: Callable[[dict[str, Any]], Any],
    success: str | Callable[[Any], str] | Callable[[dict[str, Any]], str],
) -> HttpResponse:
    """Validate the button's small form (its errors in one message), then run the service call with its
    cleaned data; back to `next=` (else the queue) either way."""
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form_errors(form)))
        return HttpResponseRedirect(safe_next(request, _queue()))
    data = form.cleaned_data
    return desk_action(request, lambda: call(data), fallback=_queue(), success=success)


def approve(model_admin: HisLinkRequestAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    if refused := post_only(request):
        return refused
    req = model_admin.open_request(request, pk)
    return _with_form(
        request,
        ApproveForm,
        lambda data: services.link_request_approve(
            request=req, actor=request.user, his_patient_id=data["his_patient_id"]
        ),
        lambda link: (
            gettext("Đã liên kết %(name)s với hồ sơ HIS %(id)s; người bệnh được báo qua SMS.")
            % {"name": req.patient.full_name, "id": link.his_patient_id}
        ),
    )


def reject(model_admin: HisLinkRequestAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    if refused := post_only(request):
        return refused
    req = model_admin.open_request(request, pk)
    return _with_form(
        request,
        RejectForm,
        lambda data: services.link_request_reject(request=req, actor=request.user, reason=data["reason"]),
        gettext("Đã từ chối yêu cầu liên kết của %(name)s; người bệnh được báo qua SMS.")
        % {"name": req.patient.full_name},
    )


def lookup(model_admin: HisLinkRequestAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    if refused := post_only(request):
        return refused
    req = model_admin.open_request(request, pk)
    done, fresh = run(request, lambda: services.link_request_lookup(request=req, actor=request.user))
    if done and fresh.lookup_error:
        messages.warning(request, fresh.lookup_error)
    elif done:
        messages.success(
            request, gettext("Đã tra cứu lại HIS: %(n)s hồ sơ tìm được.") % {"n": len(fresh.candidates)}
        )
    return HttpResponseRedirect(safe_next(request, _queue()))


def find_record(model_admin: HisLinkRequestAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    """The linker names a HIS code: the record it resolves to joins the candidates (or an error)."""
    if refused := post_only(request):
        return refused
    req = model_admin.open_request(request, pk)
    code = ""

    def find(data: dict[str, Any]) -> Any:
        nonlocal code
        code = data["his_code"]
        return services.link_request_find_record(request=req, actor=request.user, his_code=code)

    return _with_form(
        request,
        FindRecordForm,
        find,
        lambda _found: (
            gettext("Đã tìm thấy hồ sơ mã %(code)s; so sánh với tài khoản rồi bấm “Liên kết hồ sơ này”.")
            % {"code": code}
        ),
    )


def _held(request: HttpRequest, pk: int) -> HisHeldRecord:
    record = selectors.held_record_for(user=request.user, pk=pk)
    if record is None:
        raise Http404(gettext("Không tìm thấy hồ sơ chờ đối chiếu."))
    return record


def held_attach(model_admin: HisLinkRequestAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    if refused := post_only(request):
        return refused
    record = _held(request, pk)
    return desk_action(
        request,
        lambda: imports.held_record_attach(record=record, actor=request.user),
        fallback=_queue(),
        success=gettext("Đã gắn lượt khám %(ref)s vào hồ sơ của %(name)s.")
        % {"ref": record.external_id, "name": record.candidate_patient or ""},
    )


def held_dismiss(model_admin: HisLinkRequestAdmin, request: HttpRequest, pk: int) -> HttpResponse:
    if refused := post_only(request):
        return refused
    record = _held(request, pk)
    return _with_form(
        request,
        DismissHeldForm,
        lambda data: imports.held_record_dismiss(record=record, actor=request.user, reason=data["reason"]),
        gettext("Đã bỏ qua lượt khám %(ref)s; hồ sơ không được gắn vào người bệnh nào.")
        % {"ref": record.external_id},
    )
