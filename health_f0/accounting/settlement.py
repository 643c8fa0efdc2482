"""Reading a gateway's settlement file ("file đối soát") into lines: our reference, the gateway's transaction
number, the amount in whole dong, the time, and whether it is a successful payment.

Gateways send the day's file by e-mail or SFTP (VNPay: "file tổng hợp số liệu giao dịch của ngày T") or let the
merchant export it from their portal, as CSV or XLSX; the layout is the merchant contract's. The reader finds
the header row (title rows above it are skipped) and the columns by name, accepting for each field:

- the gateway's API field names (VNPay querydr/IPN: vnp_TxnRef, vnp_TransactionNo, vnp_Amount ×100,
  vnp_PayDate yyyyMMddHHmmss, vnp_TransactionType 01 payment / 02, 03 refund, vnp_TransactionStatus 00;
  MoMo: orderId, transId, amount, responseTime, resultCode; payOS: orderCode, reference, amount,
  transactionDateTime, code);
- the Vietnamese headers of the merchant portals' transaction exports ("Mã tham chiếu", "Mã giao dịch VNPAY",
  "Số tiền", "Thời gian thanh toán", "Loại giao dịch", "Trạng thái", ...).

Refund lines and unsuccessful lines are counted as skipped, not matched: the day's reconciliation is of the money
paid in. Anything unreadable is a `SettlementError` saying which line and why (in Vietnamese), never a 500.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from health_f0.core.exceptions import DomainError

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_LINES = 50_000
HEADER_SEARCH_ROWS = 15


class SettlementError(DomainError):
    """The settlement file cannot be read (field "file")."""

    code = "settlement_unreadable"

    def __init__(self, message: str):
        super().__init__(message, field="file")


@dataclass(frozen=True)
class SettlementLine:
    line: int  # 1-based line (row) number in the file, for the accountant
    reference: str  # our reference as the gateway echoes it
    gateway_ref: str
    amount: int  # whole dong
    paid_at: datetime | None
    is_payment: bool  # a successful payment (not a refund, not a failed attempt)


def _key(text: Any) -> str:
    """A header without diacritics, case, spaces or punctuation: "Mã giao dịch VNPAY" -> "magiaodichvnpay"."""
    plain = unicodedata.normalize("NFD", str(text or "")).replace("đ", "d").replace("Đ", "D")
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", plain.lower())


# field -> accepted header keys (see _key), most specific first.
ALIASES: dict[str, tuple[str, ...]] = {
    "reference": (
        "vnptxnref",
        "orderid",
        "ordercode",
        "matxnref",
        "mathamchieu",
        "mathamchieumerchant",
        "magiaodichmerchant",
        "magdmerchant",
        "madonhang",
        "mathanhtoan",
    ),
    "gateway_ref": (
        "vnptransactionno",
        "transid",
        "reference",
        "magiaodichvnpay",
        "magdvnpay",
        "magiaodichtaivnpay",
        "magiaodichcuacong",
        "magiaodichmomo",
        "magiaodich",
        "sobuttoan",
    ),
    "amount": ("vnpamount", "amount", "sotien", "sotienthanhtoan", "sotiengiaodich", "giatri"),
    "paid_at": (
        "vnppaydate",
        "responsetime",
        "transactiondatetime",
        "thoigianthanhtoan",
        "ngaythanhtoan",
        "thoigiangiaodich",
        "ngaygiaodich",
        "thoigian",
    ),
    "type": ("vnptransactiontype", "loaigiaodich", "loaigd", "type"),
    "status": ("vnptransactionstatus", "resultcode", "code", "trangthai", "ketqua"),
}
REQUIRED = ("reference", "amount")
# Values of the type column that are a payment; values of the status column that are a success.
PAYMENT_TYPES = frozenset({"", "01", "1", "thanhtoan", "payment", "pay", "giaodichthanhtoan"})
OK_STATUSES = frozenset({"", "00", "0", "thanhcong", "success", "successful", "giaodichthanhcong", "paid"})


def read_settlement(*, content: bytes, file_name: str) -> tuple[list[SettlementLine], int]:
    """(successful payment lines, number of skipped lines: refunds, failures, blank lines) of a CSV or XLSX
    settlement file. Raises SettlementError."""
    if not content:
        raise SettlementError(_("Tệp đối soát trống."))
    if len(content) > MAX_FILE_BYTES:
        raise SettlementError(
            _("Tệp đối soát lớn hơn %(mb)s MB; hãy tách theo ngày.") % {"mb": MAX_FILE_BYTES // (1024 * 1024)}
        )
    is_xlsx = content[:2] == b"PK" or file_name.lower().endswith(".xlsx")
    rows = _xlsx_rows(content) if is_xlsx else _csv_rows(content)
    return _read_rows(rows, amount_in_hundredths=None)


def _csv_rows(content: bytes) -> Iterator[list[Any]]:
    for encoding in ("utf-8-sig", "cp1258", "latin-1"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    yield from csv.reader(io.StringIO(text), dialect)


def _xlsx_rows(content: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise SettlementError(
            _("Không đọc được tệp Excel (.xlsx); hãy lưu lại tệp dưới dạng .xlsx hoặc .csv.")
        )
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()


def _find_columns(header: Sequence[Any]) -> dict[str, int]:
    keys = [_key(cell) for cell in header]
    columns: dict[str, int] = {}
    for field, aliases in ALIASES.items():
        for alias in aliases:
            if alias in keys and keys.index(alias) not in columns.values():
                columns[field] = keys.index(alias)
                break
    return columns


def _read_rows(
    rows: Iterable[list[Any]], amount_in_hundredths: bool | None
) -> tuple[list[SettlementLine], int]:
    iterator = iter(rows)
    columns: dict[str, int] = {}
    header: list[Any] = []
    line_no = 0
    for line_no, row in enumerate(iterator, start=1):
        found = _find_columns(row)
        if all(field in found for field in REQUIRED):
            columns, header = found, row
            break
        if line_no >= HEADER_SEARCH_ROWS:
            break
    if not columns:
        raise SettlementError(
            _(
                "Không tìm thấy dòng tiêu đề có cột mã thanh toán (vnp_TxnRef / Mã tham chiếu) và cột số tiền "
                "(vnp_Amount / Số tiền) trong %(n)s dòng đầu của tệp."
            )
            % {"n": HEADER_SEARCH_ROWS}
        )
    header_keys = dict(columns)
    hundredths = amount_in_hundredths
    if hundredths is None:
        # vnp_Amount is the amount x 100 (VNPay's API convention); a portal's "Số tiền" is in dong.
        hundredths = _key(header[columns["amount"]]) == "vnpamount"
    lines: list[SettlementLine] = []
    skipped = 0
    first_data_line = line_no + 1
    for line_no, row in enumerate(iterator, start=first_data_line):
        if len(lines) + skipped > MAX_LINES:
            raise SettlementError(_("Tệp có hơn %(n)s dòng; hãy tách theo ngày.") % {"n": MAX_LINES})

        def cell(field: str, row: list[Any] = row) -> Any:
            index = header_keys.get(field)
            return row[index] if index is not None and index < len(row) else None

        reference = _text(cell("reference"))
        if not reference and not _text(cell("amount")):
            skipped += 1 if any(_text(value) for value in row) else 0
            continue
        kind = _key(cell("type"))
        status = _key(cell("status"))
        is_payment = kind in PAYMENT_TYPES and status in OK_STATUSES
        if not reference:
            raise SettlementError(_("Dòng %(n)s: thiếu mã thanh toán.") % {"n": line_no})
        amount = _amount(cell("amount"), line_no, hundredths)
        paid_at = _time(cell("paid_at"), line_no)
        if not is_payment:
            skipped += 1
            continue
        lines.append(
            SettlementLine(
                line=line_no,
                reference=reference[:64],
                gateway_ref=_text(cell("gateway_ref"))[:64],
                amount=amount,
                paid_at=paid_at,
                is_payment=True,
            )
        )
    return lines, skipped


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().lstrip("'")


def _amount(value: Any, line_no: int, hundredths: bool) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = int(round(value))
    else:
        raw = _text(value).lower().replace("vnd", "").replace("đ", "").replace(" ", "")
        # Vietnamese thousands use "." (1.500.000), English ","; neither carries decimals for dong.
        digits = re.sub(r"[.,](?=\d{3}(\D|$))", "", raw)
        if not re.fullmatch(r"-?\d+", digits):
            raise SettlementError(
                _("Dòng %(n)s: số tiền “%(value)s” không đọc được.") % {"n": line_no, "value": raw[:30]}
            )
        number = int(digits)
    if hundredths:
        number //= 100
    return abs(number)


TIME_FORMATS = (
    "%Y%m%d%H%M%S",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d/%m/%Y",
)


def _time(value: Any, line_no: int) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=LOCAL)
    raw = _text(value)
    if raw.isdigit() and len(raw) == 13:  # MoMo responseTime: epoch milliseconds
        return datetime.fromtimestamp(int(raw) / 1000, tz=LOCAL)
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=LOCAL)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise SettlementError(
            _("Dòng %(n)s: thời gian “%(value)s” không đọc được (dd/mm/yyyy HH:MM:SS hoặc yyyyMMddHHmmss).")
            % {"n": line_no, "value": raw[:30]}
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL)


def lines_from_gateway_queries(*, gateway: Any, payments: Iterable[Any]) -> tuple[list[SettlementLine], int]:
    """The query-API fallback when a gateway sent no file: ask the gateway (`payments.gateways.base.Gateway
    .query`) about each of our payments of the day and turn each PAID answer into a settlement line (the
    gateway's amount, transaction number and time). Answers other than PAID are counted as skipped, so our
    payment shows as missing on their side. A gateway that cannot be reached raises GatewayError: the day is
    not reconciled from half the answers. This finds "missing on their side" and amount mismatches only; a
    payment we never recorded needs the gateway's file."""
    from health_f0.payments.gateways.base import Outcome, PaymentRequest

    lines: list[SettlementLine] = []
    skipped = 0
    for number, payment in enumerate(payments, start=1):
        request = PaymentRequest(
            reference=payment.reference,
            amount=payment.amount,
            description=(payment.description or payment.reference)[:100],
            created_at=payment.created_at,
            expires_at=payment.expires_at,
            return_url="",
            notify_url="",
        )
        answer = gateway.query(request)
        if answer.outcome != Outcome.PAID:
            skipped += 1
            continue
        lines.append(
            SettlementLine(
                line=number,
                reference=answer.reference or payment.reference,
                gateway_ref=answer.gateway_ref,
                amount=answer.amount,
                paid_at=answer.paid_at,
                is_payment=True,
            )
        )
    return lines, skipped
