"""The registration desk's columns and detail fields: what the person declared and how it was screened."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from health_f0.desk.formatting import (
    age_years,
    badge,
    duration_label,
    fmt_born,
    fmt_date,
    fmt_datetime,
    name_html,
)
from health_f0.patients import address
from health_f0.registration import screening
from health_f0.registration.models import Eligibility, Registration, RegistrationStatus
from health_f0.registration.selectors import needs_confirmation

ELIGIBILITY_BADGE: dict[str, str | None] = {
    Eligibility.ELIGIBLE: "success",
    Eligibility.REVIEW: "warning",
    Eligibility.HOSPITAL: "danger",
}
STATUS_BADGE: dict[str, str | None] = {
    RegistrationStatus.SUBMITTED: "info",
    RegistrationStatus.ACCEPTED: "success",
    RegistrationStatus.REJECTED: "danger",
}
ELIGIBILITY_COLOURS = tuple(ELIGIBILITY_BADGE.items())
STATUS_COLOURS = tuple(STATUS_BADGE.items())


@lru_cache(maxsize=64)
def _badge(text: str, kind: str | None) -> SafeString:
    """desk.formatting.badge (a template rendering) once per label and colour: a queue page repeats a handful."""
    return badge(text, kind)


@lru_cache(maxsize=64)
def _choice_badge(
    choices: Any, value: str, colours: tuple[tuple[str, str | None], ...], language: str | None
) -> SafeString:
    """The badge of one value of `choices` in `language`: Django's get_FOO_display() builds the field's whole
    choice dict on every call, for every row."""
    label = str(choices(value).label) if value in choices.values else value
    return _badge(label, dict(colours).get(value))


def labels(options: list[screening.Option], codes: list[str]) -> str:
    return ", ".join(screening.label(options, code) for code in codes) or gettext("Không")


def yes_no(value: bool) -> str:
    return gettext("Có") if value else gettext("Không")


def bullet_list(items: list[str]) -> SafeString:
    if not items:
        return SafeString("—")
    return format_html(
        '<ul class="flex flex-col gap-1">{}</ul>',
        format_html_join("", "<li>• {}</li>", ((i,) for i in items)),
    )


class RegistrationColumns:
    """The display methods of the registration desk (mixed into RegistrationAdmin)."""

    # --- columns ----------------------------------------------------------------------------

    @display(description=_("họ và tên"), ordering="full_name")
    def name_col(self, obj: Registration) -> SafeString:
        name = name_html(obj.full_name)
        if obj.status != RegistrationStatus.SUBMITTED or not needs_confirmation(obj):
            return name
        # The row highlight (change_list.html) hangs on data-priority; the word is for those without colour.
        return format_html(
            '<span class="reg-priority reg-priority-{}" data-priority="{}">'
            '<span class="reg-priority-flag">{}</span> {}</span>',
            obj.eligibility,
            obj.eligibility,
            gettext("Ưu tiên"),
            name,
        )

    @display(description=_("tuổi"), ordering="-date_of_birth")
    def age_col(self, obj: Registration) -> int:
        return age_years(obj.date_of_birth)

    @display(description=_("số điện thoại"))
    def phone_col(self, obj: Registration) -> SafeString:
        return format_html('<span class="whitespace-nowrap">{}</span>', obj.phone_display)

    @display(description=_("phường/xã"), ordering="ward_name")
    def ward_col(self, obj: Registration) -> SafeString:
        return format_html('<span class="whitespace-nowrap">{}</span>', obj.ward_name)

    @display(description=_("thời gian chờ"), ordering="created_at")
    def waiting_col(self, obj: Registration) -> str:
        if obj.status != RegistrationStatus.SUBMITTED:
            waited = (obj.decided_at or obj.updated_at) - obj.created_at
            return gettext("xử lý sau %(duration)s") % {"duration": duration_label(waited)}
        return gettext("chờ %(duration)s") % {"duration": duration_label(timezone.now() - obj.created_at)}

    @display(description=_("đánh giá"), ordering="eligibility")
    def eligibility_col(self, obj: Registration) -> SafeString:
        head = _choice_badge(Eligibility, obj.eligibility, ELIGIBILITY_COLOURS, get_language())
        if not obj.eligibility_reasons:
            return head
        return format_html(
            '<div class="flex flex-col gap-1 items-start">{}<span class="text-xs whitespace-normal">{}</span></div>',
            head,
            "; ".join(obj.eligibility_reasons),
        )

    @display(description=_("trạng thái"), ordering="status")
    def status_col(self, obj: Registration) -> SafeString:
        return _choice_badge(RegistrationStatus, obj.status, STATUS_COLOURS, get_language())

    # --- detail fields ----------------------------------------------------------------------

    @display(description=_("ngày sinh"))
    def dob_col(self, obj: Registration) -> str:
        return fmt_born(obj.date_of_birth)

    @display(description=_("giới tính"))
    def sex_col(self, obj: Registration) -> str:
        return screening.label(screening.SEXES, obj.sex)

    @display(description=_("địa chỉ"))
    def address_col(self, obj: Registration) -> str:
        parts = [obj.street, obj.ward_name, address.province_name(obj.province_code)]
        return ", ".join(part for part in parts if part)

    @display(description=_("người đăng ký"))
    def relation_col(self, obj: Registration) -> str:
        return screening.label(screening.RELATIONS, obj.relation)

    @display(description=_("loại xét nghiệm"))
    def test_type_col(self, obj: Registration) -> str:
        return screening.label(screening.TEST_TYPES, obj.test_type)

    @display(description=_("ngày có kết quả dương tính"))
    def positive_date_col(self, obj: Registration) -> str:
        return fmt_date(obj.positive_date)

    @display(description=_("triệu chứng"))
    def symptoms_col(self, obj: Registration) -> SafeString:
        if not obj.symptoms:
            return SafeString(gettext("Không có triệu chứng"))
        return format_html_join(
            " ",
            "{}",
            (
                (
                    badge(
                        screening.label(screening.SYMPTOMS, code),
                        "danger" if code in screening.DANGER_SYMPTOMS else None,
                    ),
                )
                for code in obj.symptoms
            ),
        )

    @display(description=_("bệnh nền"))
    def conditions_col(self, obj: Registration) -> str:
        return labels(screening.CONDITIONS, obj.conditions)

    @display(description=_("bệnh nền ổn định"))
    def conditions_stable_col(self, obj: Registration) -> str:
        return yes_no(obj.conditions_stable) if obj.conditions else "—"

    @display(description=_("đang mang thai"))
    def pregnant_col(self, obj: Registration) -> str:
        return yes_no(obj.pregnant)

    @display(description=_("khả năng tự chăm sóc"))
    def care_col(self, obj: Registration) -> str:
        return screening.label(screening.CARE, obj.care)

    @display(description=_("liên lạc được qua điện thoại"))
    def can_phone_col(self, obj: Registration) -> str:
        return yes_no(obj.can_phone)

    @display(description=_("lý do"))
    def reasons_col(self, obj: Registration) -> SafeString:
        return bullet_list(list(obj.eligibility_reasons))

    @display(description=_("ghi chú"))
    def notes_col(self, obj: Registration) -> SafeString:
        return bullet_list(list(obj.eligibility_notes))

    @display(description=_("đồng ý lúc"))
    def consent_at_col(self, obj: Registration) -> str:
        return fmt_datetime(obj.consent_at)

    @display(description=_("gửi lúc"))
    def submitted_col(self, obj: Registration) -> str:
        return fmt_datetime(obj.created_at)

    @display(description=_("xử lý lúc"))
    def decided_at_col(self, obj: Registration) -> str:
        return fmt_datetime(obj.decided_at)

    @display(description=_("người bệnh"))
    def patient_col(self, obj: Registration) -> Any:
        if obj.patient_id is None:
            return "—"
        url = reverse("admin:patients_patient_change", args=[obj.patient_id])
        return format_html(
            '<a class="text-primary-600 underline" href="{}">{}</a>', url, gettext("Mở hồ sơ người bệnh")
        )
