"""The "Liên kết HIS" group of the desk's sidebar (health_f0.desk.navigation), before the reports."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from health_f0.desk.navigation import Permission, can_view, has_role, item, register_group, url
from health_f0.facilities import access


def _under(name: str, *, besides: tuple[str, ...] = ()) -> Permission:
    def check(request: HttpRequest) -> bool:
        base = url(name)
        others = tuple(url(other) for other in besides)
        return (
            bool(base) and request.path.startswith(base) and not (others and request.path.startswith(others))
        )

    return check


def group(request: HttpRequest) -> dict[str, Any]:
    """Items the user may not open are hidden."""
    requests_list = "his_hislinkrequest_changelist"
    return {
        "title": _("Liên kết HIS"),
        "separator": True,
        "items": [
            {
                **item(
                    _("Hàng chờ liên kết"),
                    "pending_actions",
                    url("his_link_queue"),
                    has_role(access.HIS_LINKER_ROLES),
                ),
                "active": _under("his_link_queue"),
            },
            {
                **item(
                    _("Liên kết tại quầy"),
                    "how_to_reg",
                    url("his_hislinkrequest_add"),
                    has_role(access.HIS_COUNTER_ROLES),
                ),
                "active": _under("his_hislinkrequest_add"),
            },
            {
                **item(
                    _("Tất cả yêu cầu liên kết"),
                    "fact_check",
                    url(requests_list),
                    can_view("his.HisLinkRequest"),
                ),
                "active": _under(requests_list, besides=("his_link_queue", "his_hislinkrequest_add")),
            },
            item(
                _("Tài khoản đã liên kết"),
                "link",
                url("his_hislink_changelist"),
                can_view("his.HisLink"),
            ),
            item(
                _("Nhập tệp XML / đồng bộ"),
                "upload_file",
                url("his_import_upload"),
                has_role(access.HIS_LINKER_ROLES),
            ),
            {
                **item(
                    _("Lượt nhập dữ liệu"),
                    "sync",
                    url("his_importrun_changelist"),
                    can_view("his.ImportRun"),
                ),
                "active": _under("his_importrun_changelist", besides=("his_import_upload",)),
            },
            item(
                _("Lượt khám (HIS)"),
                "stethoscope",
                url("his_hisvisit_changelist"),
                can_view("his.HisVisit"),
            ),
            item(
                _("Kết quả cận lâm sàng"),
                "biotech",
                url("his_hislabresult_changelist"),
                can_view("his.HisLabResult"),
            ),
            item(
                _("Báo cáo liên kết HIS"),
                "monitoring",
                "/bao-cao/lien-ket-his/",
                has_role(access.HIS_RUN_ROLES),
            ),
        ],
    }


register_group("his", 40, group)
