"""Link requests in the desk: the list and the detail page, the HIS linker's queue page, reception's request at
the counter and the printable link form. The queue's buttons (approve, reject, look up again, find a record,
held XML records) are in his.desk.decisions; what a card offers comes from LINK_WORKFLOW.available."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from health_f0.core.idpages import IdPages
from health_f0.desk.actions import run
from health_f0.desk.formatting import fmt_date, fmt_datetime, fmt_user, name_html
from health_f0.desk.site import ScopedModelAdmin, desk_site, has_any_role
from health_f0.facilities import access
from health_f0.his import selectors, services
from health_f0.his.desk import decisions
from health_f0.his.desk.widgets import held_card, link_status_badge, request_card
from health_f0.his.forms import FindRecordForm, ReceptionRequestForm, RejectForm
from health_f0.his.models import HisLink, HisLinkRequest, LinkChannel

QUEUE_PAGE_SIZE = 20
HELD_SHOWN = 20
_ID = "0000000000"  # stands for a request id in the HTML of a form field rendered once a page


def _component(template: str, **context: Any) -> SafeString:
    """An unfold button or label rendered once a page: in the card's template, each `{% component %}` copies the
    whole page context and renders through the context processors, for every card (issue 11)."""
    return SafeString(render_to_string(template, context).strip())


class CardParts:
    """What every request card repeats, rendered once a page: its buttons and match labels, and the two form
    fields (find a record, reason to reject), whose ids are made per request from one rendering, as
    FindRecordForm(auto_id=f"find{pk}_%s") and RejectForm(auto_id=f"reject{pk}_%s") render them."""

    def __init__(self) -> None:
        def button(children: Any, variant: str) -> SafeString:
            return _component("unfold/components/button.html", submit=1, variant=variant, children=children)

        def label(text: Any, kind: str) -> SafeString:
            return _component("unfold/helpers/label.html", type=kind, text=text)

        self.ui = {
            "claim": label(gettext("Người yêu cầu khai"), "info"),
            "matches": label(gettext("✓ Khớp"), "success"),
            "differs": label(gettext("✗ Không khớp"), "danger"),
            "link_exact": button(gettext("Liên kết hồ sơ này"), "primary"),
            "link_other": button(gettext("Liên kết hồ sơ này"), "default"),
            "find": button(gettext("Tìm hồ sơ"), "default"),
            "reject": button(gettext("Từ chối"), "danger"),
            "lookup": button(
                format_html(
                    '<span class="material-symbols-outlined text-base mr-1">refresh</span>{}',
                    gettext("Tra cứu lại HIS"),
                ),
                "default",
            ),
        }
        find = FindRecordForm(auto_id=f"find{_ID}_%s")["his_code"]
        reject = RejectForm(auto_id=f"reject{_ID}_%s")["reason"]
        self.find, self.find_id = str(find), find.id_for_label
        self.reject, self.reject_id = str(reject), reject.id_for_label

    def dress(self, card: dict[str, Any]) -> dict[str, Any]:
        """The card with its form fields under this request's ids."""
        pk = str(card["req"].pk)
        card["fields"] = {
            "find": SafeString(self.find.replace(_ID, pk)),
            "find_id": self.find_id.replace(_ID, pk),
            "reject": SafeString(self.reject.replace(_ID, pk)),
            "reject_id": self.reject_id.replace(_ID, pk),
        }
        return card


@admin.register(HisLinkRequest, site=desk_site)
class HisLinkRequestAdmin(ScopedModelAdmin):
    view_roles = access.HIS_LINKER_ROLES
    add_roles = access.HIS_COUNTER_ROLES
    read_only = True  # decisions only through the queue's buttons (services)
    read_only_allows_add = True
    list_display = (
        "name_col",
        "dob_col",
        "identifier_col",
        "facility",
        "channel",
        "created_col",
        "candidates_col",
        "status_col",
    )
    list_display_links = ("name_col",)
    list_select_related = ("patient", "facility")
    list_filter = ("status", "channel", "auto_linked", ("facility", admin.RelatedOnlyFieldListFilter))
    list_filter_submit = True
    list_fullwidth = True
    search_fields = ("patient__full_name", "identifier", "his_patient_id")
    phone_search_field = "patient__phone"
    search_help_text = _("Tìm theo họ tên, số điện thoại, mã người yêu cầu khai hoặc mã người bệnh trong HIS")
    ordering = ("-created_at", "-id")

    def scope(self, user: Any) -> QuerySet[Any]:
        return selectors.link_requests_for(user=user)

    @display(description=_("người bệnh"), ordering="patient__full_name")
    def name_col(self, obj: HisLinkRequest) -> SafeString:
        return name_html(obj.patient.full_name)

    @display(description=_("ngày sinh"))
    def dob_col(self, obj: HisLinkRequest) -> str:
        return fmt_date(obj.patient.date_of_birth)

    @display(description=_("mã người yêu cầu khai"))
    def identifier_col(self, obj: HisLinkRequest) -> str:
        return f"{obj.get_identifier_type_display()}: {obj.identifier}"

    @display(description=_("gửi lúc"), ordering="created_at")
    def created_col(self, obj: HisLinkRequest) -> str:
        return fmt_datetime(obj.created_at)

    @display(description=_("hồ sơ HIS tìm được"))
    def candidates_col(self, obj: HisLinkRequest) -> str:
        if obj.lookup_error:
            return gettext("HIS chưa phản hồi")
        return str(len(obj.candidates))

    @display(description=_("trạng thái"), ordering="status")
    def status_col(self, obj: HisLinkRequest) -> SafeString:
        return link_status_badge(obj)

    # --- pages ------------------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view

        def bound(view: Any) -> Any:
            return wrap(lambda request, pk: view(self, request, pk))

        own = [
            path("hang-cho/", wrap(self.queue_view), name="his_link_queue"),
            path("<int:pk>/duyet/", bound(decisions.approve), name="his_link_approve"),
            path("<int:pk>/tu-choi/", bound(decisions.reject), name="his_link_reject"),
            path("<int:pk>/tra-cuu-lai/", bound(decisions.lookup), name="his_link_lookup"),
            path("<int:pk>/tim-ho-so/", bound(decisions.find_record), name="his_link_find"),
            path("ho-so-cho/<int:pk>/gan/", bound(decisions.held_attach), name="his_held_attach"),
            path("ho-so-cho/<int:pk>/bo-qua/", bound(decisions.held_dismiss), name="his_held_dismiss"),
            path("<int:pk>/phieu-lien-ket/", wrap(self.form_pdf_view), name="his_link_form_pdf"),
        ]
        return own + super().get_urls()

    def queue_view(self, request: HttpRequest) -> HttpResponse:
        """Waiting requests, oldest first, each with the HIS candidates side by side."""
        if not has_any_role(request.user, access.HIS_LINKER_ROLES):
            raise PermissionDenied
        hospitals = list(selectors.linker_hospitals(user=request.user))
        raw = request.GET.get("facility", "")
        facility = next((f for f in hospitals if str(f.pk) == raw), None)
        # Whether each patient already has a live link at the request's facility, read in the page's query:
        # the `already_linked` guard of the approve button reads it (his.transitions) instead of asking per card.
        queue = selectors.link_queue(user=request.user, facility=facility).annotate(
            patient_linked_here=Exists(
                HisLink.objects.filter(
                    patient_id=OuterRef("patient_id"), facility_id=OuterRef("facility_id"), active=True
                )
            )
        )
        # Paged by ids read in the order's index (selectors.link_queue_ids), not by the ORM's LIMIT.
        listing = IdPages(selectors.link_queue_ids(user=request.user, facility=facility), queue)
        page = Paginator(listing, QUEUE_PAGE_SIZE).get_page(request.GET.get("p"))
        requests_shown = list(page.object_list)
        services.his_records_view(actor=request.user, records=requests_shown, verb="view_his_link_queue")
        held_qs = selectors.held_records_for(user=request.user, facility=facility)
        held = list(held_qs[:HELD_SHOWN])
        services.his_records_view(
            actor=request.user,
            records=[r for r in held if r.candidate_patient_id],
            verb="view_his_held_records",
        )
        links = selectors.held_links(held)
        parts = CardParts()
        query = request.GET.copy()
        query.pop("p", None)
        context = {
            **self.page_context(request, gettext("Hàng chờ liên kết HIS")),
            "hospitals": hospitals if len(hospitals) > 1 else [],
            "selected": facility.pk if facility else None,
            "page": page,
            "cards": [parts.dress(request_card(request, req)) for req in requests_shown],
            "ui": parts.ui,
            "held_cards": [held_card(record, links) for record in held],
            "held_total": held_qs.count() if len(held) >= HELD_SHOWN else len(held),
            "held_shown": HELD_SHOWN,
            "query": query.urlencode(),
            "all_url": reverse("admin:his_hislinkrequest_changelist"),
        }
        return TemplateResponse(request, "admin/his/queue.html", context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        req = self.scoped_object(request, object_id)
        if req is None:
            raise Http404(gettext("Không tìm thấy yêu cầu liên kết."))
        services.his_records_view(actor=request.user, records=[req], verb="view_his_link_request")
        link = req.links.order_by("-linked_at").first()
        parts = CardParts()
        context = {
            **self.page_context(request, gettext("Yêu cầu liên kết HIS")),
            "card": parts.dress(request_card(request, req)),
            "ui": parts.ui,
            "link_url": reverse("admin:his_hislink_change", args=[link.pk]) if link else "",
            "decided_by": fmt_user(req.decided_by),
            "decided_at": fmt_datetime(req.decided_at),
            **self.history_context(req, gettext("Lịch sử yêu cầu"), include_views=True),
            "back_url": reverse("admin:his_link_queue"),
        }
        return TemplateResponse(request, "admin/his/request_detail.html", context)

    def open_request(self, request: HttpRequest, pk: int) -> HisLinkRequest:
        """A request of this user's scope, for a queue button (404 otherwise)."""
        req = self.get_queryset(request).filter(pk=pk).select_related("patient", "facility").first()
        if req is None:
            raise Http404(gettext("Không tìm thấy yêu cầu liên kết."))
        return req

    def form_pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The printable link form: for reception (who started it at the counter) and the linkers."""
        req = selectors.counter_requests_for(user=request.user).filter(pk=pk).first()
        if req is None:
            raise Http404(gettext("Không tìm thấy yêu cầu liên kết."))
        services.his_records_view(actor=request.user, records=[req], verb="print_his_link_form")
        response = HttpResponse(services.link_form_pdf(request=req), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="phieu-lien-ket-his-{req.public_id.hex[:8]}.pdf"'
        return response

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Reception starts a request for a patient at the counter (channel "reception")."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ReceptionRequestForm(request.POST or None)
        created: HisLinkRequest | None = None
        if request.method == "POST" and form.is_valid():
            patient = self._find_patient(request, form)
            if patient is not None:
                _done, created = run(
                    request,
                    lambda: services.link_request_create(
                        patient=patient,
                        identifier_type=form.cleaned_data["identifier_type"],
                        identifier=form.cleaned_data["identifier"],
                        channel=LinkChannel.RECEPTION,
                        actor=request.user,
                    ),
                    form=form,
                )
        context = {
            **self.page_context(request, gettext("Yêu cầu liên kết HIS tại quầy")),
            "form": form,
            "created": created,
            "created_status": link_status_badge(created) if created else "",
            "pdf_url": reverse("admin:his_link_form_pdf", args=[created.pk]) if created else "",
            "again_url": reverse("admin:his_hislinkrequest_add"),
        }
        return TemplateResponse(request, "admin/his/reception_request.html", context)

    def _find_patient(self, request: HttpRequest, form: ReceptionRequestForm) -> Any:
        """The one patient (with an account) the user may see with this phone, CCCD or BHYT number."""
        found = selectors.counter_patients(user=request.user, term=form.cleaned_data["patient_query"])
        if not found:
            form.add_error(
                "patient_query",
                gettext("Không tìm thấy người bệnh có tài khoản với số này trong phạm vi của bạn."),
            )
            return None
        if len(found) > 1:
            form.add_error(
                "patient_query",
                gettext("Có %(n)s người bệnh dùng số này (%(names)s); hãy nhập số CCCD hoặc thẻ BHYT.")
                % {"n": len(found), "names": ", ".join(p.full_name for p in found)},
            )
            return None
        return found[0]
