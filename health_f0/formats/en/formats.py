"""English formats: the product is Vietnamese, so dates stay dd/mm/yyyy in English too (never US
mm/dd/yyyy); the rest comes from Django's `en` locale."""

from health_f0.formats._common import (  # noqa: F401 (read by django.utils.formats)
    DATE_INPUT_FORMATS,
    DATETIME_INPUT_FORMATS,
    FIRST_DAY_OF_WEEK,
    SHORT_DATE_FORMAT,
    SHORT_DATETIME_FORMAT,
    TIME_INPUT_FORMATS,
)
