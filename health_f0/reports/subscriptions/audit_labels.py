"""How the audit rows of report subscriptions and their e-mails read in the desk (core.audit.audit_describe)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from health_f0.core.audit import AuditVocabulary

SUBSCRIPTION_VOCABULARY = AuditVocabulary(
    verbs={
        "report_subscription_save": _("Lưu đăng ký nhận báo cáo"),
        "report_subscription_delete": _("Xoá đăng ký nhận báo cáo"),
        "email_report": _("Gửi báo cáo qua e-mail"),
    },
    keys={
        "report": _("Báo cáo"),
        "period": _("Chu kỳ"),
        "format": _("Định dạng"),
        "send_time": _("Giờ gửi"),
        "recipients": _("Số người nhận"),
        "active": _("Đang bật"),
        "owner": _("Người đăng ký"),
        "from": _("Từ ngày"),
        "to": _("Đến ngày"),
        "subscription": _("Mã đăng ký"),
        "requested_by": _("Người bấm gửi thử"),
    },
)
