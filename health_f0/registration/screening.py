"""The screening questions' option codes (stable English codes, Vietnamese and English labels).

The web form, the API (`GET /api/v1/registration-form`) and the eligibility rules all read these.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    code: str
    vi: str
    en: str
    danger: bool = False


RELATIONS = [
    Option("self", "Tôi tự đăng ký cho bản thân", "Registering myself"),
    Option("relative", "Tôi đăng ký giúp người thân", "Registering for a relative"),
]
SEXES = [Option("male", "Nam", "Male"), Option("female", "Nữ", "Female"), Option("other", "Khác", "Other")]
TEST_TYPES = [
    Option("rt_pcr", "Xét nghiệm RT-PCR", "RT-PCR test"),
    Option("rapid", "Test nhanh kháng nguyên", "Rapid antigen test"),
]
SYMPTOMS = [
    Option("none", "Không có triệu chứng", "No symptoms"),
    Option("fever", "Sốt", "Fever"),
    Option("cough", "Ho", "Cough"),
    Option("sore_throat", "Đau họng", "Sore throat"),
    Option("runny_nose", "Sổ mũi, nghẹt mũi", "Runny or blocked nose"),
    Option("fatigue", "Mệt mỏi", "Fatigue"),
    Option("muscle_pain", "Đau mỏi người", "Body aches"),
    Option("headache", "Đau đầu", "Headache"),
    Option("loss_taste_smell", "Mất vị giác, khứu giác", "Loss of taste or smell"),
    Option("sputum", "Ho có đờm", "Cough with sputum"),
    Option("chills", "Ớn lạnh, gai rét", "Chills"),
    Option("red_eyes", "Đỏ mắt", "Red eyes"),
    Option("diarrhoea", "Tiêu chảy", "Diarrhoea"),
    Option("shortness_of_breath", "Khó thở, thở hụt hơi", "Difficulty breathing", danger=True),
    Option("chest_pain", "Đau tức ngực kéo dài", "Persistent chest pain", danger=True),
    Option("confusion", "Lơ mơ, lú lẫn, co giật", "Drowsiness, confusion or seizures", danger=True),
    Option("cyanosis", "Tím môi, tím đầu chi", "Blue lips or fingertips", danger=True),
    Option("coughing_blood", "Ho ra máu", "Coughing blood", danger=True),
]
CONDITIONS = [
    Option("hypertension", "Tăng huyết áp", "High blood pressure"),
    Option("diabetes", "Đái tháo đường", "Diabetes"),
    Option("heart_disease", "Bệnh tim mạch", "Heart disease"),
    Option("chronic_lung", "Bệnh phổi mạn tính, hen", "Chronic lung disease or asthma"),
    Option("chronic_kidney", "Bệnh thận mạn", "Chronic kidney disease"),
    Option("liver_disease", "Bệnh gan mạn", "Chronic liver disease"),
    Option("cancer", "Ung thư", "Cancer"),
    Option("immunodeficiency", "Suy giảm miễn dịch, HIV, dùng thuốc ức chế miễn dịch", "Immunodeficiency"),
    Option("obesity", "Béo phì", "Obesity"),
    Option("other", "Bệnh nền khác", "Other chronic condition"),
]
PREGNANCY = [
    Option("no", "Không mang thai", "Not pregnant"),
    Option("yes", "Đang mang thai", "Pregnant"),
]
CARE = [
    Option("self_care", "Tự chăm sóc được", "Can look after myself"),
    Option("caregiver", "Có người chăm sóc", "Has a caregiver"),
    Option("none", "Không tự chăm sóc được và không có người chăm sóc", "Cannot self-care, no caregiver"),
]
VACCINE_DOSES_MAX = 5

DANGER_SYMPTOMS = frozenset(o.code for o in SYMPTOMS if o.danger)


def codes(options: list[Option]) -> list[str]:
    return [o.code for o in options]


def label(options: list[Option], code: str, lang: str = "vi") -> str:
    for o in options:
        if o.code == code:
            return o.vi if lang == "vi" else o.en
    return code


def choices(options: list[Option]) -> list[tuple[str, str]]:
    return [(o.code, o.vi) for o in options]


def form_description() -> dict[str, object]:
    """Everything the mobile app needs to draw the form: each field and every option code it accepts."""

    def opts(options: list[Option]) -> list[dict[str, object]]:
        return [
            {"code": o.code, "label_vi": o.vi, "label_en": o.en, "danger_sign": o.danger} for o in options
        ]

    return {
        "relation": opts(RELATIONS),
        "sex": opts(SEXES),
        "test_type": opts(TEST_TYPES),
        "symptoms": opts(SYMPTOMS),
        "conditions": opts(CONDITIONS),
        "pregnancy": opts(PREGNANCY),
        "care": opts(CARE),
        "vaccine_doses": {"min": 0, "max": VACCINE_DOSES_MAX},
        "spo2": {"min": 50, "max": 100, "unit": "%", "optional": True},
        "breathing_rate": {"min": 5, "max": 80, "unit": "lần/phút", "optional": True},
    }
