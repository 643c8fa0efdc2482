"""Names of the department codes a HIS sends without a name (XML1's MA_KHOA, a FHIR Encounter's
serviceProvider code): the national list of departments (Bảng 7 "Danh mục khoa" of Quyết định
4210/QĐ-BYT, 20/9/2017, which the insurance XML uses as MA_KHOA = "K" + its two digits).

Only the codes checked against that list are here; any other code reads "Khoa <code>" (a HIS's own
codes are its own business). The name the HIS sends always wins over this list."""

from __future__ import annotations

DEPARTMENTS: dict[str, str] = {
    "K01": "Khoa Khám bệnh",
    "K02": "Khoa Hồi sức cấp cứu",
    "K03": "Khoa Nội tổng hợp",
    "K04": "Khoa Nội tim mạch",
    "K05": "Khoa Nội tiêu hoá",
    "K06": "Khoa Nội cơ - xương - khớp",
    "K07": "Khoa Nội thận - tiết niệu",
    "K08": "Khoa Nội tiết",
    "K09": "Khoa Dị ứng",
    "K10": "Khoa Huyết học lâm sàng",
    "K11": "Khoa Truyền nhiễm",
    "K12": "Khoa Lao",
    "K13": "Khoa Da liễu",
    "K14": "Khoa Thần kinh",
    "K15": "Khoa Tâm thần",
    "K16": "Khoa Y học cổ truyền",
    "K18": "Khoa Nhi",
    "K19": "Khoa Ngoại tổng hợp",
    "K20": "Khoa Ngoại thần kinh",
    "K21": "Khoa Ngoại lồng ngực",
    "K22": "Khoa Ngoại tiêu hoá",
    "K23": "Khoa Ngoại thận - tiết niệu",
    "K50": "Khoa Nội hô hấp",
}
