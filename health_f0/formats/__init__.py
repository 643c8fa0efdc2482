"""The product's own locale formats (settings.FORMAT_MODULE_PATH): every date typed or shown is dd/mm/yyyy,
in Vietnamese and in English alike.

Django's `vi` locale defines no input formats, so without these a date field falls back to the global
defaults, whose first slash format is the US `%m/%d/%Y`: "01/12/2026" was read as 12 January and
"20/12/2026" refused. Django reads a name from here first and from its own locale module otherwise.
"""
