"""Input formats shared by every language of the product (see health_f0.formats)."""

# The first format is also how date inputs (and the desk's date picker) write a date: dd/mm/yyyy.
DATE_INPUT_FORMATS = [
    "%d/%m/%Y",  # 20/12/2026
    "%d/%m/%y",  # 20/12/26
    "%d-%m-%Y",  # 20-12-2026
    "%d.%m.%Y",  # 20.12.2026
    "%Y-%m-%d",  # 2026-12-20 (ISO: links, <input type="date">, the API)
]
TIME_INPUT_FORMATS = [
    "%H:%M",  # 07:30
    "%H:%M:%S",  # 07:30:00
    "%Hh%M",  # 7h30, as Vietnamese write it
    "%H.%M",  # 7.30
]
DATETIME_INPUT_FORMATS = [
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
]
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
FIRST_DAY_OF_WEEK = 1  # Monday, in the date picker's calendar
