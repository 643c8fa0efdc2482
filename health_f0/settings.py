"""Settings, all from the environment (see docs/operations.md for every variable)."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONCE as CSP_NONCE
from django.utils.translation import gettext_lazy as _
from whitenoise.compress import Compressor

BASE_DIR = Path(__file__).resolve().parent.parent
# var/ holds personal data (the SQLite database and job queue, sms.jsonl, uploaded files, the secret key):
# whatever this process creates is its own user's only (files 0600, folders 0700), whoever starts it.
os.umask(0o077)
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # A stable per-install key kept under var/ so the zero-setup product survives restarts.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# The public address of the portal, used in SMS links.
PORTAL_URL = os.environ.get("PORTAL_URL", "http://127.0.0.1:8000").rstrip("/")
# The portal's name in its header, <title> and the desk's header (facilities.portal.SiteInfo.title). Empty: built
# from the Sở Y tế's name ("Sở Y tế thành phố Hải Phòng" -> "Cổng sức khoẻ thành phố Hải Phòng").
PORTAL_TITLE = os.environ.get("PORTAL_TITLE", "").strip()
# While an outbreak home-care programme runs, the portal's home page shows home-care registration and the daily
# declaration prominently; off, they are a small link among the other services (docs/operations.md).
HOMECARE_PROGRAMME_ACTIVE = env_bool("HOMECARE_PROGRAMME_ACTIVE", True)
# HIS link (health_f0.his): the FHIR R4 base URL of the hospital information system (empty: no online
# lookup, links are made by the HIS linker) and the folder watched for insurance XML files (QĐ 4750/3176).
HIS_FHIR_BASE_URL = os.environ.get("HIS_FHIR_BASE_URL", "").rstrip("/")
HIS_XML_WATCH_DIR = os.environ.get("HIS_XML_WATCH_DIR", "")
# Online consultations: each booking gets its own random room on this video service (Jitsi Meet; a
# self-hosted Jitsi in production), shown to the patient and the doctor from this many minutes before the
# slot until its end, and texted in the reminders.
VIDEO_MEETING_BASE_URL = os.environ.get("VIDEO_MEETING_BASE_URL", "https://meet.jit.si").rstrip("/")
VIDEO_ROOM_OPEN_MINUTES = int(os.environ.get("VIDEO_ROOM_OPEN_MINUTES", "15"))

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    # Two-factor authentication for staff (health_f0.accounts.two_factor): TOTP apps and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "huey.contrib.djhuey",
    "health_f0.core",
    # The desk right after core: its admin module installs the desk as the default admin site before any
    # domain's desk pages register (autodiscovery follows this order).
    "health_f0.desk",
    "health_f0.accounts",
    "health_f0.facilities",
    "health_f0.patients",
    "health_f0.notifications",
    "health_f0.registration",
    "health_f0.monitoring",
    "health_f0.appointments",
    "health_f0.his",
    "health_f0.privacy",
    "health_f0.payments",
    "health_f0.accounting",
    "health_f0.api",
    "health_f0.www",
    "health_f0.reports",
    # Scheduled report e-mails (issue 13 §5): subscriptions and their deliveries.
    "health_f0.reports.subscriptions",
    # Composition only: the demo data (manage.py seed_demo) over every domain.
    "health_f0.demo",
]

MIDDLEWARE = [
    # Outermost: cuts each API request's reference cycles once its response is closed (core/cycles.py).
    "health_f0.core.cycles.ReleaseCyclesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files keep their long cache and need no policy.
    "health_f0.core.security_headers.PrivateDataHeadersMiddleware",
    "health_f0.core.security_headers.ContentSecurityPolicyMiddleware",
    # health_f0.core.lean_stack.*: browser-session middleware that a bearer-token /api/ request without a
    # session cookie passes straight through (no session, CSRF cookie, messages, OTP or two-factor step).
    "health_f0.core.lean_stack.SessionMiddleware",
    # Django's, negotiating the language once per (language cookie, Accept-Language) (core/middleware.py).
    "health_f0.core.middleware.LocaleMiddleware",
    # Django's, the request's host checked against ALLOWED_HOSTS once per Host header (core/middleware.py).
    "health_f0.core.middleware.CommonMiddleware",
    "health_f0.core.lean_stack.CsrfViewMiddleware",
    "health_f0.core.lean_stack.AuthenticationMiddleware",
    "health_f0.core.lean_stack.OTPMiddleware",
    "health_f0.core.lean_stack.MessageMiddleware",
    # Idle and absolute session limits (accounts/session_policy.py), before anything else looks at the user.
    "health_f0.core.lean_stack.SessionPolicyMiddleware",
    # Django's, its header written straight into the header store (core/security_headers.py).
    "health_f0.core.security_headers.XFrameOptionsMiddleware",
    "health_f0.core.middleware.ForcePasswordChangeMiddleware",
    # A staff session that has not given its two-factor code goes to /desk/xac-thuc/ (accounts/two_factor.py).
    "health_f0.core.lean_stack.TwoFactorMiddleware",
    "health_f0.privacy.middleware.ConsentRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
    # A view that fails because the database is away answers 503 (core/db_health.py).
    "health_f0.core.db_health.DatabaseUnavailableMiddleware",
]
# Django's security.W003 looks for CsrfViewMiddleware by name and cannot see its web-only variant above;
# health_f0.W003 (core/lean_stack.py) checks for either. The same for security.W002 (and W019, which it gates) and
# XFrameOptionsMiddleware: health_f0.W002 and W019 (core/security_headers.py).
SILENCED_SYSTEM_CHECKS = ["security.W002", "security.W003"]

ROOT_URLCONF = "health_f0.urls"
WSGI_APPLICATION = "health_f0.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Before the apps' folders (unfold is listed first): unfold's page skeleton without chart.js and the
        # Inter web fonts (health_f0/desk/templates/unfold/layouts/skeleton.html, the Static section).
        "DIRS": [BASE_DIR / "health_f0" / "desk" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
    # The portal's list pages, their layout and shared partials (issue 11): health_f0/www/jinja2/, see
    # health_f0/www/jinja.py. After Django's engine, so a name is looked up there first.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "APP_DIRS": True,
        "OPTIONS": {
            "environment": "health_f0.www.jinja.environment",
            "context_processors": ["health_f0.www.jinja.context"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'health_f0.sqlite3'}")
# Sorts and matches Vietnamese names correctly (MariaDB >= 10.10).
MARIADB_COLLATION = "utf8mb4_uca1400_vietnamese_ai_ci"
_db: dict[str, Any] = dict(dj_database_url.parse(DATABASE_URL, conn_max_age=60))
# A persistent connection is pinged before its first query in each request: after a MariaDB restart it is
# replaced instead of failing that request. (A bearer-token API call's token look-up is that check itself, with
# no ping: health_f0/api/sql/tokens.py.)
_db["CONN_HEALTH_CHECKS"] = True
# Timeouts (docs/operations.md, "Database outages"): a database that is down, frozen or slow costs a request
# a few seconds and a clear 503 (core/db_health.py), not every worker thread. One statement may run for
# DB_STATEMENT_TIMEOUT seconds in a web request, DB_WORKER_STATEMENT_TIMEOUT in the background worker
# (manage.py run_huey); other manage.py commands (migrate, imports run by hand) have no limit. The client
# waits for an answer 2 s longer than the server's limit, so the server stops a slow statement cleanly and
# the client gives up only on a server that does not answer at all. DB_PROCESS overrides the detection.
DB_CONNECT_TIMEOUT = int(os.environ.get("DB_CONNECT_TIMEOUT", "3"))
DB_STATEMENT_TIMEOUT = float(os.environ.get("DB_STATEMENT_TIMEOUT", "5"))
DB_WORKER_STATEMENT_TIMEOUT = float(os.environ.get("DB_WORKER_STATEMENT_TIMEOUT", "300"))
_command = sys.argv[1] if len(sys.argv) > 1 and Path(sys.argv[0]).name == "manage.py" else ""
DB_PROCESS = os.environ.get("DB_PROCESS") or (
    "worker" if _command == "run_huey" else "command" if _command not in ("", "runserver") else "web"
)
_statement_limit = {"web": DB_STATEMENT_TIMEOUT, "worker": DB_WORKER_STATEMENT_TIMEOUT}.get(DB_PROCESS, 0.0)
if _db["ENGINE"] == "django.db.backends.mysql":
    _db["OPTIONS"] = {
        "charset": "utf8mb4",
        "collation": MARIADB_COLLATION,
        "isolation_level": "read committed",
        "init_command": "SET sql_mode='STRICT_TRANS_TABLES', time_zone='+00:00'"
        + (f", max_statement_time={_statement_limit:g}" if _statement_limit else ""),
        "connect_timeout": DB_CONNECT_TIMEOUT,
    }
    if _statement_limit:
        _db["OPTIONS"]["read_timeout"] = _db["OPTIONS"]["write_timeout"] = int(_statement_limit) + 2
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": MARIADB_COLLATION}
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    _db["CONN_MAX_AGE"] = 0
    # A database file made before var/ was private (umask above): take the group's and others' access away.
    # SQLite gives its -wal and -shm files the database file's mode.
    _sqlite_file = Path(_db["NAME"])
    _sqlite_stat = _sqlite_file.stat() if _sqlite_file.is_file() else None
    if _sqlite_stat and _sqlite_stat.st_uid == os.getuid() and _sqlite_stat.st_mode & 0o077:
        _sqlite_file.chmod(0o600)
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Daily declarations (monitoring.services.declaration_submit) ------------------------------------
# At most this many declarations per patient and local day (the next one answers 429 until midnight), and
# triage reads at most this many of the patient's latest declarations of the last 96 hours. Keep the second
# at least 5 x the first (96 hours span five local days): then the trend rules see every declaration.
DECLARATIONS_PER_DAY = int(os.environ.get("DECLARATIONS_PER_DAY", "24"))
DECLARATION_HISTORY_ROWS = int(os.environ.get("DECLARATION_HISTORY_ROWS", "120"))

# --- Redis, cache, background jobs ----------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
TASKS_EAGER = env_bool("TASKS_EAGER", False)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "health_f0.core.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            # Parallel test workers share one Redis: each keeps its own key space.
            "KEY_PREFIX": os.environ.get("CACHE_PREFIX", "hf0") + os.environ.get("PYTEST_XDIST_WORKER", ""),
            # A Redis that is down or hung answers within 2 s, so callers can fall back (core.counters).
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# After a cache error each process reads from the database, without trying the cache, for this many seconds
# (health_f0/core/safe_cache.py): a hung Redis costs one socket timeout per interval, not one per request.
CACHE_OUTAGE_SKIP_SECONDS = float(os.environ.get("CACHE_OUTAGE_SKIP_SECONDS", "5"))
# Where rate-limit counters live (health_f0.core.counters): "cache" (Redis) or "database" (core.RateCounter,
# shared by every worker process). Without Redis the local-memory cache is per process, so the database.
RATE_LIMIT_STORE = os.environ.get("RATE_LIMIT_STORE", "cache" if REDIS_URL else "database")
# Reverse proxies whose X-Forwarded-For / X-Real-IP are believed (addresses or CIDR ranges, comma-separated).
# Empty: the socket's peer address is the client (health_f0.core.request_context.client_ip).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
for _proxy in TRUSTED_PROXIES:  # a typo must stop the start, not make every request fail
    ipaddress.ip_network(_proxy, strict=False)

HUEY: dict[str, Any] = {
    "name": os.environ.get("HUEY_NAME", "health_f0"),
    "immediate": TASKS_EAGER,
    "utc": True,
    "consumer": {
        "workers": int(os.environ.get("HUEY_WORKERS", "2")),
        "worker_type": "thread",
        # systemd's and docker's stop signal lets running jobs finish (up to the timeout) and release
        # their locks; SIGINT stops at once. Job locks expire anyway (health_f0.core.locks).
        "graceful_signal": "TERM",
        "shutdown_timeout": float(os.environ.get("HUEY_SHUTDOWN_TIMEOUT", "60")),
    },
}
if REDIS_URL:
    HUEY["huey_class"] = "huey.RedisHuey"
    HUEY["url"] = REDIS_URL
else:
    HUEY["huey_class"] = "huey.SqliteHuey"
    HUEY["filename"] = str(VAR_DIR / "huey.sqlite3")

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    # django-axes' lockout per username + address, plus a per-username back-off (accounts.lockout).
    "health_f0.accounts.lockout.LoginGuardBackend",
    "django.contrib.auth.backends.ModelBackend",
    # A patient may type their OTP-proved mobile number instead of the username (accounts.phone_login).
    "health_f0.accounts.phone_login.PhoneLoginBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Staff (desk accounts) need 12 characters; patients keep 8 with the common-password check.
    {"NAME": "health_f0.accounts.passwords.StaffMinimumLengthValidator", "OPTIONS": {"min_length": 12}},
]
LOGIN_URL = "www:login"
LOGIN_REDIRECT_URL = "www:home"
LOGOUT_REDIRECT_URL = "www:home"
# Login lockout (django-axes, database handler; health_f0.accounts.lockout): AXES_FAILURE_LIMIT wrong passwords
# for one username from one address lock that pair for the cool-off. Another address is not locked, so an
# attacker cannot lock a user out; a distributed attack meets the per-username back-off instead: past
# AXES_USERNAME_BACKOFF_AFTER failures (all addresses, within the cool-off), each further try waits
# BASE, 2 x BASE, 4 x BASE ... seconds after the latest failure, up to AXES_USERNAME_BACKOFF_MAX_SECONDS,
# except from an address the user logged in from
# in the last AXES_KNOWN_ADDRESS_DAYS days. Guessing the current password on a password-change form counts
# the same way.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_MINUTES", "15")) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "health_f0.core.request_context.axes_client_ip"
AXES_RESET_ON_SUCCESS = True
# A try refused while locked is not counted: a refused try must not keep someone locked.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_LOCKOUT_TEMPLATE = "www/locked_out.html"
AXES_LOCKOUT_CALLABLE = "health_f0.accounts.lockout.lockout_response"
# The portal's page context for that lockout page (the province's name and hotline); accounts does not
# import the portal.
LOCKOUT_PAGE_CONTEXT = "health_f0.www.selectors.portal_page_context"
AXES_USERNAME_BACKOFF_AFTER = int(os.environ.get("AXES_USERNAME_BACKOFF_AFTER", str(3 * AXES_FAILURE_LIMIT)))
AXES_USERNAME_BACKOFF_BASE_SECONDS = int(os.environ.get("AXES_USERNAME_BACKOFF_BASE_SECONDS", "2"))
AXES_USERNAME_BACKOFF_MAX_SECONDS = int(os.environ.get("AXES_USERNAME_BACKOFF_MAX_SECONDS", "300"))
AXES_KNOWN_ADDRESS_DAYS = int(os.environ.get("AXES_KNOWN_ADDRESS_DAYS", "30"))
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, the row read by one constant statement (health_f0/accounts/sql.py).
SESSION_ENGINE = "health_f0.accounts.sql"
# Secure cookies unless DEBUG is on; the plain-HTTP demo (scripts/run.sh) says SECURE_COOKIES=0.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Session lifetimes (health_f0.accounts.session_policy): a staff session ends after STAFF_SESSION_IDLE_MINUTES
# without a request and STAFF_SESSION_MAX_HOURS after its login; a patient's after PATIENT_SESSION_IDLE_DAYS
# idle and PATIENT_SESSION_MAX_DAYS in all.
STAFF_SESSION_IDLE_MINUTES = int(os.environ.get("STAFF_SESSION_IDLE_MINUTES", "30"))
STAFF_SESSION_MAX_HOURS = int(os.environ.get("STAFF_SESSION_MAX_HOURS", "12"))
PATIENT_SESSION_IDLE_DAYS = int(os.environ.get("PATIENT_SESSION_IDLE_DAYS", "14"))
PATIENT_SESSION_MAX_DAYS = int(os.environ.get("PATIENT_SESSION_MAX_DAYS", "30"))
SESSION_COOKIE_AGE = 60 * 60 * 24 * PATIENT_SESSION_IDLE_DAYS
# Two-factor authentication (health_f0.accounts.two_factor): required for administrators, managers and
# superusers; optional for other staff. Turn it off only for a local demo (the test suite's fixture does).
STAFF_2FA_REQUIRED = env_bool("STAFF_2FA_REQUIRED", True)
# The name the authenticator app shows next to the account: OTP_TOTP_ISSUER when set, else the portal's title
# (facilities.portal.site_info().title, e.g. "Cổng sức khoẻ thành phố Hải Phòng"; accounts.two_factor.issuer).


def _totp_issuer(device: object = None) -> str:
    from health_f0.accounts.two_factor import issuer

    return issuer()


OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "").strip() or _totp_issuer

# --- HTTPS and security headers (docs/operations.md, "Production"; core/security_headers.py) ----------
# Behind a TLS-terminating reverse proxy that sets X-Forwarded-Proto (and strips it from clients).
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
# A link out (the video room, a guidance source) never tells another site which booking page it came from.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
# django-csp 4: scripts only from the product itself or with the request's nonce (`request.csp_nonce`);
# inline styles are allowed (charts and unfold use style attributes). The desk adds 'unsafe-eval' for
# Alpine.js (security_headers.ContentSecurityPolicyMiddleware). No CDN: everything is 'self'.
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", CSP_NONCE],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- I18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Tiếng Việt")), ("en", _("English"))]
# locale: our own strings (English); locale_vendor: Vietnamese for packages that ship none (unfold).
LOCALE_PATHS = [BASE_DIR / "health_f0" / "locale", BASE_DIR / "health_f0" / "locale_vendor"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True
# dd/mm/yyyy in every date field and picker, Vietnamese and English (Django's `vi` has no input formats
# and fell back to the US %m/%d/%Y): see health_f0/formats.
FORMAT_MODULE_PATH = ["health_f0.formats"]

# --- Static ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
# Uploaded files may be personal (XML from the HIS, certificates): owner-only, like everything under var/.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# Served by WhiteNoise from what `manage.py collectstatic` put in STATIC_ROOT (scripts/run.sh runs it at every
# start; docs/operations.md after every upgrade): each file under a name holding a hash of its content, with
# .gz and .br copies. Pages link the hashed names; WhiteNoise sends the compressed copy the browser accepts and
# lets it keep the file for ten years ("immutable": a changed file gets a new name). DEBUG (files edited
# while the server runs) and the test suite (pytest's live server serves the apps' folders by plain name)
# use the plain names, found in the apps' folders.
STATIC_HASHED_NAMES = not (DEBUG or "pytest" in sys.modules)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_HASHED_NAMES
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_HASHED_NAMES
# Source maps (14 of the 25 MB collected; only a developer's browser tools fetch them) stay uncompressed: that
# halves the time collectstatic takes.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]

# --- SMS ------------------------------------------------------------------------------------
SMS_BACKEND = os.environ.get("SMS_BACKEND", "console")  # console | file | esms
SMS_FILE_PATH = os.environ.get("SMS_FILE_PATH", str(VAR_DIR / "sms.jsonl"))
ESMS_API_URL = os.environ.get(
    "ESMS_API_URL", "https://rest.esms.vn/MainService.svc/json/SendMultipleMessage_V4_post_json/"
)
ESMS_API_KEY = os.environ.get("ESMS_API_KEY", "")
ESMS_SECRET_KEY = os.environ.get("ESMS_SECRET_KEY", "")
ESMS_BRANDNAME = os.environ.get("ESMS_BRANDNAME", "")
ESMS_TIMEOUT = float(os.environ.get("ESMS_TIMEOUT", "10"))
# Secret path segment of the delivery-report hook eSMS calls (PORTAL_URL/hooks/esms/<token>); empty = off.
ESMS_CALLBACK_TOKEN = os.environ.get("ESMS_CALLBACK_TOKEN", "")
SMS_MAX_ATTEMPTS = int(os.environ.get("SMS_MAX_ATTEMPTS", "8"))
# An SMS attempt left unanswered (timeout, killed worker) is checked with the gateway's status call after
# this many seconds (at least 3 x ESMS_TIMEOUT), never resent blindly (notifications.services).
SMS_RECONCILE_AFTER_SECONDS = int(os.environ.get("SMS_RECONCILE_AFTER_SECONDS", "120"))
# eSMS's "messages sent in a time range" call; empty: derived from ESMS_API_URL (…/GetSmsSentData_V2).
ESMS_SENT_DATA_URL = os.environ.get("ESMS_SENT_DATA_URL", "")
# The province's administrators are texted once when the outbox's oldest waiting SMS is this old.
OUTBOX_ALERT_MINUTES = int(os.environ.get("OUTBOX_ALERT_MINUTES", "10"))
# What the gateway bills for one segment of an unaccented SMS (160 characters, 153 when concatenated), in VND:
# an SMS costs its segments x this (appointments.texts.cost_vnd; the outbox counts segments).
SMS_COST_PER_SEGMENT_VND = int(os.environ.get("SMS_COST_PER_SEGMENT_VND", "800"))
# --- Zalo ZNS: template messages through the province's Zalo Official Account (docs/operations.md, "Zalo
# ZNS"). Used only when ZNS_ENABLED, the message kind has a template below and the recipient chose Zalo;
# otherwise, and as the fallback, SMS. Keys come from the environment only and are never logged.
ZNS_ENABLED = env_bool("ZNS_ENABLED", False)
ZNS_API_URL = os.environ.get("ZNS_API_URL", "https://business.openapi.zalo.me/message/template")
ZNS_OAUTH_URL = os.environ.get("ZNS_OAUTH_URL", "https://oauth.zaloapp.com/v4/oa/access_token")
ZNS_APP_ID = os.environ.get("ZNS_APP_ID", "")
ZNS_APP_SECRET = os.environ.get("ZNS_APP_SECRET", "")  # the app's secret key (refreshing the token)
ZNS_OA_SECRET_KEY = os.environ.get("ZNS_OA_SECRET_KEY", "")  # the OA secret key (webhook signatures)
# The first refresh token (Zalo replaces it at each refresh; the current one is kept encrypted in the DB).
ZNS_REFRESH_TOKEN = os.environ.get("ZNS_REFRESH_TOKEN", "")
ZNS_TIMEOUT = float(os.environ.get("ZNS_TIMEOUT", "10"))

# Online payments (health_f0.payments): seconds to wait for a gateway's API (VNPay querydr/refund, MoMo, payOS).
# Each facility's gateway accounts and keys are registered in the desk (Thanh toán > Tài khoản cổng thanh toán).
PAYMENT_GATEWAY_TIMEOUT = float(os.environ.get("PAYMENT_GATEWAY_TIMEOUT", "10"))
# Approved template id per message kind (notifications.models.MessageKind), e.g.
# ZNS_TEMPLATE_APPOINTMENT_REMINDER=231678; a kind without a template always goes by SMS.
ZNS_TEMPLATES = {
    kind: os.environ[f"ZNS_TEMPLATE_{kind.upper()}"]
    for kind in ("appointment", "appointment_reminder", "registration_received", "reminder", "generic")
    if os.environ.get(f"ZNS_TEMPLATE_{kind.upper()}")
}
# What one ZNS template message costs (VND; the OA's price list), against SMS_COST_PER_SEGMENT_VND per segment.
ZNS_COST_VND = int(os.environ.get("ZNS_COST_VND", "300"))
# A ZNS message with no delivery report after this many minutes is sent again by SMS (once).
ZNS_FALLBACK_AFTER_MINUTES = int(os.environ.get("ZNS_FALLBACK_AFTER_MINUTES", "15"))
# SMS short links (PORTAL_URL/h/<code>): unknown codes one client address may try in a window before every
# lookup from it is refused (429) until the window ends. Known codes are not counted: a waiting hall behind
# one address is never blocked by its own patients.
SHORT_LINK_MISSES_PER_WINDOW = int(os.environ.get("SHORT_LINK_MISSES_PER_WINDOW", "20"))
SHORT_LINK_WINDOW_SECONDS = int(os.environ.get("SHORT_LINK_WINDOW_SECONDS", "600"))

# --- OTP ------------------------------------------------------------------------------------
OTP_TTL_SECONDS = 300
OTP_MAX_ATTEMPTS = 5
OTP_RESEND_SECONDS = 60
OTP_MAX_PER_PHONE_PER_HOUR = int(os.environ.get("OTP_MAX_PER_PHONE_PER_HOUR", "5"))
# Per network address (an IPv6 /64): sized for carrier-grade NAT, where a whole district's mobile users can
# share one public address during an outbreak. The per-phone caps stay strict; the province-wide hourly
# budget stops SMS pumping (OTP sending pauses and the administrators are alerted, once an hour).
OTP_MAX_PER_IP_PER_HOUR = int(os.environ.get("OTP_MAX_PER_IP_PER_HOUR", "300"))
OTP_SMS_BUDGET_PER_HOUR = int(os.environ.get("OTP_SMS_BUDGET_PER_HOUR", "1000"))

# Where to report a vulnerability (/.well-known/security.txt, docs/security.md): mailto: or https: URIs.
SECURITY_CONTACT = env_list("SECURITY_CONTACT", "mailto:security@soyte.example.gov.vn")

# Version of the personal-data policy the registration form asks consent to.
PRIVACY_POLICY_VERSION = "2025-07"
# Personal-data rights and retention (health_f0.privacy; docs/operations.md gives each one's basis). The
# policy version above is the baseline: accounts made before versions were recorded agreed to it.
PRIVACY_REQUEST_RESPONSE_WORKING_DAYS = int(os.environ.get("PRIVACY_REQUEST_RESPONSE_WORKING_DAYS", "2"))
PRIVACY_EXPORT_HOURS = int(os.environ.get("PRIVACY_EXPORT_HOURS", "24"))
RETENTION_MEDICAL_RECORD_YEARS = int(os.environ.get("RETENTION_MEDICAL_RECORD_YEARS", "10"))
RETENTION_OTP_DAYS = int(os.environ.get("RETENTION_OTP_DAYS", "7"))
RETENTION_SECRET_SMS_HOURS = int(os.environ.get("RETENTION_SECRET_SMS_HOURS", "24"))
RETENTION_API_TOKEN_DAYS = int(os.environ.get("RETENTION_API_TOKEN_DAYS", "30"))
RETENTION_EARLY_REPORT_DAYS = int(os.environ.get("RETENTION_EARLY_REPORT_DAYS", "3"))
RETENTION_AUDIT_DAYS = int(os.environ.get("RETENTION_AUDIT_DAYS", "3650"))
RETENTION_BATCH_SIZE = int(os.environ.get("RETENTION_BATCH_SIZE", "1000"))

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "health_f0.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    # /api/v1/ and /api/v2/ (lists by keyset cursor): health_f0/api/versioning.py.
    "DEFAULT_VERSIONING_CLASS": "health_f0.api.versioning.ApiVersioning",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "health_f0.api.exceptions.exception_handler",
    # JSON with a size and nesting limit (api/parsers.py); forms keep Django's upload limits.
    "DEFAULT_PARSER_CLASSES": [
        "health_f0.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # DRF's JSONRenderer, the same bytes written faster when the answer is plain data (api/renderers.py).
    "DEFAULT_RENDERER_CLASSES": ["health_f0.api.renderers.JSONRenderer"],
    # DRF's negotiation, its answer kept per (Accept, format, renderers): api/negotiation.py.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "health_f0.api.negotiation.CachedContentNegotiation",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "API Cổng sức khoẻ",
    "DESCRIPTION": "API v1 cho ứng dụng di động: đăng ký F0, OTP, tài khoản, khai báo sức khoẻ hằng ngày, hướng dẫn, cảnh báo.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served by the product itself: no CDN (stations run on intranets).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One enum for the alert level, whichever field carries it (alert_level, last_alert_level, level).
    "ENUM_NAME_OVERRIDES": {
        "AlertLevelEnum": "health_f0.monitoring.models.AlertLevel",
        "AppointmentStatusEnum": "health_f0.appointments.models.Status",
        "ServiceKindEnum": "health_f0.appointments.models.ServiceKind",
        "AppointmentChannelEnum": "health_f0.appointments.models.Channel",
        "HisLinkChannelEnum": "health_f0.his.models.LinkChannel",
        "KindEnum": "health_f0.api.apis.accounts.ACCOUNT_KINDS",
        "DataRequestKindEnum": "health_f0.privacy.models.RequestKind",
        "NotificationChannelEnum": "health_f0.notifications.models.Channel",
    },
}

# --- E-mail (scheduled reports, health_f0.reports.subscriptions; docs/operations.md) -------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)  # STARTTLS (port 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # implicit TLS (port 465)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "20"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "health_f0 <bao-cao@localhost>")
# Report e-mails go to the subscriber's own account e-mail, to leadership colleagues' account e-mails, and to
# addresses at these domains (the health department's own mail, e.g. "soyte.haiphong.gov.vn"); nothing else.
REPORT_EMAIL_ALLOWED_DOMAINS = [d.lower() for d in env_list("REPORT_EMAIL_ALLOWED_DOMAINS", "")]
# The address the e-mails link back to (the desk's report pages); empty: no link.
REPORT_EMAIL_SITE_URL = os.environ.get("REPORT_EMAIL_SITE_URL", "").rstrip("/")

# --- Desk (unfold) --------------------------------------------------------------------------
UNFOLD = {
    # The province's Sở Y tế (facilities.portal.site_info), not the product's code name.
    "SITE_TITLE": "health_f0.desk.site.desk_site_title",
    "SITE_HEADER": "health_f0.desk.site.desk_site_header",
    "SITE_SUBHEADER": "health_f0.desk.site.desk_site_subheader",
    "SITE_SYMBOL": "health_and_safety",
    "SHOW_LANGUAGES": True,
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        # Grouped menu ("Đăng ký F0", "Người bệnh", "Cơ sở & nhân viên", "Hệ thống"), filtered by role.
        "navigation": "health_f0.desk.site.sidebar_navigation",
    },
    # The audit log is the record of changes; Django's own admin history page is not used.
    "SHOW_HISTORY": False,
    "SHOW_VIEW_ON_SITE": False,
    # The user menu: change password, two-factor authentication (health_f0.desk.two_factor).
    "ACCOUNT": {"navigation": "health_f0.desk.two_factor.account_links"},
    # A red label on every desk page for administrators and managers while the SMS outbox is late.
    "ENVIRONMENT": "health_f0.notifications.desk.backlog.outbox_environment_label",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# --- Reports: per-department HIS linking targets (reports/appointments/departments.py) ----------------
# The Mộc Hóa plan's target is >= 80 % of a department's patients with an account linked to the HIS
# (his.selectors.LINK_TARGET). A department (facility of kind "department", by its code) may be given its own
# target in percent: DEPARTMENT_LINK_TARGETS="KKB-HD:85,KNHI-HD:90". Malformed entries stop the start-up.
DEPARTMENT_LINK_TARGETS: dict[str, float] = {
    code.strip(): float(percent) / 100
    for code, _sep, percent in (part.partition(":") for part in env_list("DEPARTMENT_LINK_TARGETS", ""))
}
if any(not code or not 0 < target <= 1 for code, target in DEPARTMENT_LINK_TARGETS.items()):
    raise ValueError("DEPARTMENT_LINK_TARGETS: write CODE:percent pairs, percent in 1..100")
