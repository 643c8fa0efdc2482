import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "health_f0.settings")
django.setup(set_prefix=False)

# Django's WSGIHandler with its request signals and header list made cheaper (core/lean_stack.py).
from health_f0.core.lean_stack import WSGIHandler  # noqa: E402

application = WSGIHandler()
