"""Insurance XML files (QĐ 4750/QĐ-BYT as amended by QĐ 3176/QĐ-BYT; the same tables carry on in QĐ 130):
a streaming reader that yields one medical record (HOSO) at a time, and the per-table checks that turn
its rows into source-neutral records.

File layout (the envelope every HIS sends to the insurance review gateway):

    <GIAMDINHHS>
      <THONGTINDONVI><MACSKCB>…</MACSKCB></THONGTINDONVI>
      <THONGTINHOSO>
        <NGAYLAP>yyyyMMdd</NGAYLAP><SOLUONGHOSO>n</SOLUONGHOSO>
        <DANHSACHHOSO>
          <HOSO>
            <FILEHOSO><LOAIHOSO>XML1</LOAIHOSO><NOIDUNGFILE>base64 of the table XML</NOIDUNGFILE></FILEHOSO>
            … one FILEHOSO per table of this visit …
          </HOSO>
        </DANHSACHHOSO>
      </THONGTINHOSO>
    </GIAMDINHHS>

Tables read (all joined by MA_LK, the visit's linking key):
* XML1 `<TONG_HOP>` visit summary: MA_LK, MA_BN (HIS patient code), HO_TEN, SO_CCCD, NGAY_SINH
  (yyyyMMdd or yyyyMMddHHmm), GIOI_TINH (1 male, 2 female), MA_THE_BHYT (4750 calls it MA_THE),
  CHAN_DOAN_RV (4750: TEN_BENH), MA_BENH_CHINH (4750: MA_BENH; ICD-10), MA_KHOA, NGAY_VAO, NGAY_RA
  (yyyyMMddHHmm).
* XML4 `<CHITIEU_CHITIET_DICHVUCANLAMSANG><DSACH_CHI_TIET_CLS><CHI_TIET_CLS>` lab and diagnostic
  results: MA_LK, STT, MA_DICH_VU, MA_CHI_SO, TEN_CHI_SO, GIA_TRI, DON_VI_DO, MO_TA, KET_LUAN, NGAY_KQ.
  The table has no reference-range columns: a range written in MO_TA ("3.9 - 6.4", "< 5.7") is used.
* XML14 `<CHI_TIEU_GIAYHEN_KHAMLAI>` re-exam slip: MA_LK, SO_GIAYHEN_KL, NGAY_HEN_KL (yyyyMMdd), MA_KHOA,
  CHAN_DOAN_RV, MA_BENH_CHINH.
Other tables (XML2 drugs, XML3 services, XML5 …) are skipped. Field names were checked against published
HIS exporters and parsers of these layouts (column lists of XML1/XML4/XML14 in open-source HIS tools).

Memory: the outer file is read with iterparse; each FILEHOSO is decoded and parsed when its end tag
arrives, and each HOSO is removed from the tree once yielded, so memory holds one HOSO whatever the file
size (bench/his_xml_import.py measures it).
"""

from __future__ import annotations

import base64
import binascii
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

from health_f0.his.adapters.base import LabRecord, SlipRecord, VisitRecord, lab_flag, parse_decimal

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# SAFE_PARSING: ElementTree never fetches external entities or DTDs, and the bundled expat (>= 2.4) caps
# entity amplification ("billion laughs"), so files from a HIS are parsed with the standard library.
TABLES = {"XML1", "XML4", "XML14"}
_ICD10 = re.compile(r"^[A-Z]\d{2}(\.?[0-9A-Z]{1,2})?$")
_RANGE = re.compile(r"(\d+(?:[.,]\d+)?)\s*[-–]\s*(\d+(?:[.,]\d+)?)")
_UPPER = re.compile(r"^\s*(?:<|≤|<=)\s*(\d+(?:[.,]\d+)?)")
_LOWER = re.compile(r"^\s*(?:>|≥|>=)\s*(\d+(?:[.,]\d+)?)")


class XmlStructureError(Exception):
    """The file is not a well-formed GIAMDINHHS envelope: nothing after this point can be read."""


class RecordError(Exception):
    """One row failed a check: `field` and a Vietnamese `reason`."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass
class Hoso:
    """One medical record of the file: its tables' rows as {column: text}, and what could not be read."""

    index: int
    xml1: list[dict[str, str]] = field(default_factory=list)
    xml4: list[dict[str, str]] = field(default_factory=list)
    xml14: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def ma_lk(self) -> str:
        return (self.xml1[0].get("MA_LK", "") if self.xml1 else "").strip()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _rows(root: ET.Element, record_tag: str) -> list[dict[str, str]]:
    """The rows named `record_tag` (the root itself for one-row tables) as {column: stripped text}."""
    elements = (
        [root] if _local(root.tag) == record_tag else [e for e in root.iter() if _local(e.tag) == record_tag]
    )
    return [{_local(c.tag): (c.text or "").strip() for c in element} for element in elements]


_TABLE_ROWS = {
    "XML1": ("TONG_HOP", "TONG_HOP"),
    "XML4": ("CHITIEU_CHITIET_DICHVUCANLAMSANG", "CHI_TIET_CLS"),
    "XML14": ("CHI_TIEU_GIAYHEN_KHAMLAI", "CHI_TIEU_GIAYHEN_KHAMLAI"),
}


def _read_filehoso(hoso: Hoso, kind: str, content: str) -> None:
    if kind not in TABLES:
        return
    where = f"hồ sơ thứ {hoso.index}, {kind}"
    try:
        raw = base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError):
        hoso.errors.append({"table": kind, "reason": f"NOIDUNGFILE không phải base64 hợp lệ ({where})."})
        return
    try:
        root = ET.fromstring(raw)  # noqa: S314 - see SAFE_PARSING below
    except ET.ParseError as exc:
        hoso.errors.append(
            {"table": kind, "reason": f"Nội dung {kind} không phải XML hợp lệ ({where}): {exc}."}
        )
        return
    root_tag, record_tag = _TABLE_ROWS[kind]
    if _local(root.tag) not in {root_tag, record_tag, "DSACH_CHI_TIET_CLS"}:
        hoso.errors.append(
            {
                "table": kind,
                "reason": f"Thẻ gốc của {kind} phải là {root_tag}, tệp có {_local(root.tag)} ({where}).",
            }
        )
        return
    getattr(hoso, kind.lower()).extend(_rows(root, record_tag))


def iter_hoso(stream: IO[bytes]) -> Iterator[Hoso]:
    """Yield the file's medical records one at a time. Raises XmlStructureError (with the line and column)
    when the envelope is broken; records before that point have been yielded."""
    index = 0
    parents: list[ET.Element] = []
    hoso: Hoso | None = None
    kind, content = "", ""
    seen_root = False
    try:
        for event, element in ET.iterparse(stream, events=("start", "end")):  # noqa: S314 - SAFE_PARSING
            tag = _local(element.tag)
            if event == "start":
                if not seen_root:
                    seen_root = True
                    if tag != "GIAMDINHHS":
                        raise XmlStructureError(f"Thẻ gốc của tệp phải là GIAMDINHHS, tệp có {tag}.")
                if tag == "HOSO":
                    index += 1
                    hoso = Hoso(index=index)
                elif tag == "FILEHOSO":
                    kind, content = "", ""
                parents.append(element)
                continue
            parents.pop()
            if tag == "LOAIHOSO":
                kind = (element.text or "").strip().upper()
            elif tag == "NOIDUNGFILE":
                content = element.text or ""
                element.text = None
            elif tag == "FILEHOSO" and hoso is not None:
                if not kind:
                    hoso.errors.append(
                        {"table": "", "reason": f"FILEHOSO thiếu LOAIHOSO (hồ sơ thứ {hoso.index})."}
                    )
                else:
                    _read_filehoso(hoso, kind, content)
                kind, content = "", ""
                element.clear()
            elif tag == "HOSO" and hoso is not None:
                yield hoso
                hoso = None
                if parents:
                    parents[-1].remove(element)  # drop the finished record from the tree: memory stays flat
    except ET.ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise XmlStructureError(f"Tệp XML không đúng cấu trúc (dòng {line}, cột {column}).") from exc
    if not seen_root:
        raise XmlStructureError("Tệp rỗng, không có dữ liệu XML.")


# --- Field checks ------------------------------------------------------------------------------------


def parse_xml_datetime(raw: str, field_name: str, *, required: bool = True) -> datetime | None:
    """yyyyMMddHHmm (or yyyyMMdd) in Vietnam time."""
    text = (raw or "").strip()
    if not text:
        if required:
            raise RecordError(field_name, f"Thiếu {field_name}.")
        return None
    # By length: strptime alone would read "20261207" as 2026-01-02 00:07 with the 12-digit format.
    fmt = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}.get(len(text))
    if fmt and text.isdigit():
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=VN_TZ)
        except ValueError:
            pass
    raise RecordError(
        field_name, f"{field_name} không đúng định dạng yyyyMMddHHmm hoặc yyyyMMdd (có: {text[:20]})."
    )


def parse_xml_date(raw: str, field_name: str, *, required: bool = True) -> date | None:
    value = parse_xml_datetime(raw, field_name, required=required)
    return value.date() if value else None


def parse_xml_money(raw: str | None, field_name: str) -> int | None:
    """An XML1 amount ("150000", "150000.00", "150000,5") in whole dong, rounded; None when absent."""
    text = (raw or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = Decimal(text)
    except ArithmeticError:
        value = None
    if value is None or not value.is_finite() or value < 0 or value > Decimal(10) ** 12:
        raise RecordError(field_name, f"{field_name} không phải số tiền hợp lệ (có: {text[:20]}).")
    return int(value.quantize(Decimal(1)))


def bill_from_xml1(row: dict[str, str]) -> tuple[int | None, int | None, int | None]:
    """(total, insurance pays, patient pays) from XML1's T_TONGCHI, T_BHTT and T_BNCCT + T_BNTT."""
    total = parse_xml_money(row.get("T_TONGCHI"), "T_TONGCHI")
    insurance = parse_xml_money(row.get("T_BHTT"), "T_BHTT")
    copay = parse_xml_money(row.get("T_BNCCT"), "T_BNCCT")
    own = parse_xml_money(row.get("T_BNTT"), "T_BNTT")
    patient = None if copay is None and own is None else (copay or 0) + (own or 0)
    return total, insurance, patient


@dataclass
class Identity:
    """Who an XML1 row is about, as the HIS wrote it: what links are matched on."""

    his_code: str
    bhyt: str
    cccd: str
    full_name: str
    date_of_birth: date | None
    sex: str = ""  # FHIR-style: male, female or "" (GIOI_TINH 1, 2, other)


def visit_from_xml1(row: dict[str, str]) -> tuple[VisitRecord, Identity]:
    ma_lk = row.get("MA_LK", "").strip()
    if not ma_lk:
        raise RecordError("MA_LK", "Thiếu MA_LK (mã liên kết lượt khám).")
    if len(ma_lk) > 100:
        raise RecordError("MA_LK", "MA_LK dài quá 100 ký tự.")
    admitted = parse_xml_datetime(row.get("NGAY_VAO", ""), "NGAY_VAO")
    discharged = parse_xml_datetime(row.get("NGAY_RA", ""), "NGAY_RA", required=False)
    if admitted and discharged and discharged < admitted:
        raise RecordError("NGAY_RA", "NGAY_RA trước NGAY_VAO.")
    born = parse_xml_date(row.get("NGAY_SINH", ""), "NGAY_SINH", required=False)
    icd = (row.get("MA_BENH_CHINH") or row.get("MA_BENH") or "").strip().upper().split(";")[0].strip()
    if icd and not _ICD10.fullmatch(icd):
        raise RecordError("MA_BENH_CHINH", f"Mã bệnh chính không phải mã ICD-10 hợp lệ ({icd[:20]}).")
    card = (row.get("MA_THE_BHYT") or row.get("MA_THE") or "").strip().upper().split(";")[0].strip()
    identity = Identity(
        his_code=row.get("MA_BN", "").strip().upper()[:32],
        bhyt=card,
        cccd=re.sub(r"\D", "", row.get("SO_CCCD", ""))[:12],
        full_name=row.get("HO_TEN", "").strip(),
        date_of_birth=born,
        sex={"1": "male", "2": "female"}.get(row.get("GIOI_TINH", "").strip(), ""),
    )
    if not (identity.his_code or identity.bhyt or identity.cccd):
        raise RecordError("MA_BN", "Hồ sơ không có MA_BN, MA_THE_BHYT hay SO_CCCD để nhận diện người bệnh.")
    visit = VisitRecord(
        external_id=ma_lk,
        his_patient_id=identity.his_code,
        department_code=row.get("MA_KHOA", "").strip()[:50],
        admitted_at=admitted,
        discharged_at=discharged,
        diagnosis_text=(
            row.get("CHAN_DOAN_RV") or row.get("TEN_BENH") or row.get("CHAN_DOAN_VAO") or ""
        ).strip(),
        icd10=icd[:20],
    )
    visit.bill_total, visit.bill_insurance, visit.bill_patient = bill_from_xml1(row)
    return visit, identity


def _reference_range(text: str) -> tuple[Decimal | None, Decimal | None]:
    match = _RANGE.search(text or "")
    if match:
        return parse_decimal(match.group(1)), parse_decimal(match.group(2))
    upper = _UPPER.search(text or "")
    if upper:
        return None, parse_decimal(upper.group(1))
    lower = _LOWER.search(text or "")
    if lower:
        return parse_decimal(lower.group(1)), None
    return None, None


def lab_from_xml4(row: dict[str, str], ma_lk: str, position: int) -> LabRecord:
    row_lk = row.get("MA_LK", "").strip()
    if not row_lk:
        raise RecordError("MA_LK", "Dòng XML4 thiếu MA_LK.")
    if row_lk != ma_lk:
        raise RecordError("MA_LK", f"Dòng XML4 có MA_LK {row_lk[:40]} khác hồ sơ {ma_lk[:40]}.")
    name = (row.get("TEN_CHI_SO") or row.get("MA_CHI_SO") or row.get("MA_DICH_VU") or "").strip()
    if not name:
        raise RecordError("TEN_CHI_SO", "Dòng XML4 thiếu TEN_CHI_SO và MA_CHI_SO.")
    observed = parse_xml_datetime(row.get("NGAY_KQ", ""), "NGAY_KQ", required=False)
    value = row.get("GIA_TRI", "").strip()
    number = parse_decimal(value)
    low, high = _reference_range(row.get("MO_TA", ""))
    service_key = "/".join(
        p for p in (row.get("MA_DICH_VU", "").strip(), row.get("MA_CHI_SO", "").strip()) if p
    )
    key = row.get("STT", "").strip() or service_key or str(position)
    return LabRecord(
        external_id=f"{ma_lk}:{key}"[:150],
        his_patient_id="",
        name=name[:255],
        visit_ref=ma_lk,
        code=(row.get("MA_CHI_SO") or row.get("MA_DICH_VU") or "").strip()[:64],
        value=value[:255],
        value_number=number,
        unit=row.get("DON_VI_DO", "").strip()[:40],
        reference_low=low,
        reference_high=high,
        reference_text=row.get("MO_TA", "").strip()[:255],
        flag=lab_flag(number, low, high),
        conclusion=row.get("KET_LUAN", "").strip(),
        observed_at=observed,
    )


def slip_from_xml14(row: dict[str, str], ma_lk: str) -> SlipRecord:
    row_lk = row.get("MA_LK", "").strip()
    if row_lk and row_lk != ma_lk:
        raise RecordError("MA_LK", f"Giấy hẹn có MA_LK {row_lk[:40]} khác hồ sơ {ma_lk[:40]}.")
    number = row.get("SO_GIAYHEN_KL", "").strip()
    if not number:
        raise RecordError("SO_GIAYHEN_KL", "Giấy hẹn khám lại thiếu SO_GIAYHEN_KL.")
    day = parse_xml_date(row.get("NGAY_HEN_KL", ""), "NGAY_HEN_KL")
    assert day is not None
    note = " — ".join(p for p in (row.get("CHAN_DOAN_RV", "").strip(), row.get("GHI_CHU", "").strip()) if p)
    return SlipRecord(
        external_id=f"{ma_lk}:{number}"[:100],
        his_patient_id="",
        date=day,
        visit_ref=ma_lk,
        department_code=row.get("MA_KHOA", "").strip()[:50],
        note=note,
    )


# --- Writing files (tests and the benchmark generator) -----------------------------------------------


def table_xml(kind: str, rows: list[dict[str, Any]]) -> bytes:
    """The inner table XML of one FILEHOSO (what a HIS base64-encodes into NOIDUNGFILE)."""

    def fields(row: dict[str, Any]) -> str:
        return "".join(f"<{k}>{_esc(v)}</{k}>" for k, v in row.items())

    if kind == "XML1":
        body = f"<TONG_HOP>{fields(rows[0])}</TONG_HOP>"
    elif kind == "XML4":
        items = "".join(f"<CHI_TIET_CLS>{fields(r)}</CHI_TIET_CLS>" for r in rows)
        body = f"<CHITIEU_CHITIET_DICHVUCANLAMSANG><DSACH_CHI_TIET_CLS>{items}</DSACH_CHI_TIET_CLS></CHITIEU_CHITIET_DICHVUCANLAMSANG>"
    elif kind == "XML14":
        body = f"<CHI_TIEU_GIAYHEN_KHAMLAI>{fields(rows[0])}</CHI_TIEU_GIAYHEN_KHAMLAI>"
    else:
        raise ValueError(kind)
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode("utf-8")


def _esc(value: Any) -> str:
    return (
        str(value if value is not None else "")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def hoso_xml(tables: list[tuple[str, bytes]]) -> str:
    """One <HOSO> with a FILEHOSO per (kind, inner XML bytes)."""
    files = "".join(
        f"<FILEHOSO><LOAIHOSO>{kind}</LOAIHOSO><NOIDUNGFILE>{base64.b64encode(raw).decode()}</NOIDUNGFILE></FILEHOSO>"
        for kind, raw in tables
    )
    return f"<HOSO>{files}</HOSO>"


def envelope_head(facility_code: str, count: int, made_on: date) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<GIAMDINHHS><THONGTINDONVI>'
        f"<MACSKCB>{_esc(facility_code)}</MACSKCB></THONGTINDONVI><THONGTINHOSO>"
        f"<NGAYLAP>{made_on:%Y%m%d}</NGAYLAP><SOLUONGHOSO>{count}</SOLUONGHOSO><DANHSACHHOSO>\n"
    )


ENVELOPE_TAIL = "</DANHSACHHOSO></THONGTINHOSO></GIAMDINHHS>\n"
