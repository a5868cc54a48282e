"""Settings for the contact centre, read from the environment.

With no environment set the product runs embedded: a SQLite file in the project folder, the in-memory
channel layer and the periodic jobs on a scheduler inside the server process. DATABASE_URL selects
PostgreSQL; REDIS_URL selects the Redis channel layer, Redis-backed rate limits and Celery.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import redis.exceptions
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

DEFAULT_SECRET_KEY = "insecure-embedded-secret-change-me"


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or default


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


DEBUG = env_bool("DEBUG", default=not os.environ.get("DATABASE_URL"))
SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a long random value when DEBUG is off (production)."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "channels",
    "django_htmx",
    "template_partials",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "auditlog",  # before contactcentre, whose admin replaces auditlog's own admin of the log
    "contactcentre",
    "routing",
    "webchat",
    "crm",
    "reports",
]

MIDDLEWARE = [
    # First: every request is counted and timed, those a later middleware answers included.
    "runtime.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "contactcentre.audit.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After OTPMiddleware and HtmxMiddleware: a session still owing its second step reaches no page.
    "contactcentre.two_factor.TwoFactorMiddleware",
    # Last, so that it sees the refusal of a locked-out sign-in and answers with the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "contactcentre.urls"
ASGI_APPLICATION = "contactcentre.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    # Under ASGI each request runs in a thread of its own, and each thread would keep a connection of its
    # own open: connections come from a pool instead (bounded per process), checked as they are handed out
    # by the project's backend, without the round trip that Django's own health check costs (off).
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=0, conn_health_checks=False, engine="runtime.postgresql"
        )
    }
    # Threads per server process for the sockets' database calls (runtime/database.py); keep the
    # pool larger, since page requests take connections too.
    DATABASE_THREADS = env_int("DATABASE_THREADS", 8)
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN_SIZE", 2),
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 20),
        "timeout": env_int("DATABASE_POOL_TIMEOUT_SECONDS", 10),
    }
else:
    DATABASE_THREADS = 1
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
            # A busy SQLite file waits for the writer instead of failing at once.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # Redis pub/sub (runtime/channel_layer.py): one PUBLISH per group_send, delivered in memory to the
    # process's sockets, which are told to reconnect and catch up if Redis may have dropped frames. Reads
    # wait longer than redis-py's default 5 s; a pool of thousands, not the default 100.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "runtime.channel_layer.PubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": env_int("REDIS_MAX_CONNECTIONS", 2000),
                        "socket_timeout": 15,
                        # After Redis restarts every pooled connection is dead: a command that meets one is
                        # retried once on a fresh connection, rather than failing and losing its event.
                        "retry_on_error": [redis.exceptions.ConnectionError],
                    }
                ],
                "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "asgi"),
            },
        }
    }
    # The cache (rate-limit counters) may live in its own Redis database, apart from the channel layer.
    CACHE_URL = os.environ.get("CACHE_URL", REDIS_URL)
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Periodic jobs: Celery beat and workers in production (REDIS_URL set), a scheduler thread inside the
# server process otherwise. JOBS_IN_PROCESS overrides the choice.
JOBS_IN_PROCESS = env_bool("JOBS_IN_PROCESS", default=not REDIS_URL)
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
JOB_INTERVAL_SECONDS = env_int("JOB_INTERVAL_SECONDS", 2)
# How often the service-level alert job checks the queues at most (reports/alerts.py).
SL_ALERT_CHECK_SECONDS = env_int("SL_ALERT_CHECK_SECONDS", 15)
# One task a tick runs every job (routing/tasks.py): a task per job cost the worker and beat several times
# what the jobs cost.
CELERY_BEAT_SCHEDULE = {
    "periodic-jobs": {"task": "routing.tasks.run_periodic_jobs", "schedule": JOB_INTERVAL_SECONDS},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Signing in (the inbox's and the admin's) is throttled by django-axes (contactcentre/sign_in_limits.py):
# after LOGIN_FAILURE_LIMIT failures within the cool-off, the account, and separately the address, is
# refused until LOGIN_COOLOFF_MINUTES have passed since its last failure. Axes checks first; Django's own
# backend then checks the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "contactcentre.sign_in_limits.client_ip"
AXES_LOCKOUT_CALLABLE = "contactcentre.sign_in_limits.lockout_response"
# The attempts span every company: not in the admin, whose pages are each company's. Operators read and
# clear them with `manage.py axes_list_attempts` and `axes_reset_username`.
AXES_ENABLE_ADMIN = False

# The audit log (contactcentre/audit.py): django-auditlog's entries, kept in the product's own model, which
# says which company each entry belongs to.
AUDITLOG_LOGENTRY_MODEL = "contactcentre.AuditEntry"
# auditlog's migrations create a table for its own entry model even when it is replaced, and that unused
# table's links to the logins would keep the test suite from emptying the database between tests.
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_CHANGE_DISPLAY_TRUNCATE_LENGTH = 200
# The /demo/ page (a web page carrying the demo company's snippet) is for trying the product out: served
# when DEBUG is on, in production only when DEMO_PAGE says so.
DEMO_PAGE = env_bool("DEMO_PAGE", default=DEBUG)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inbox"
LOGOUT_REDIRECT_URL = "login"
# Email (the service-level alerts): SMTP when EMAIL_HOST is set, else written to the console (embedded mode).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "contact-centre@localhost")
# The product's address as people reach it, for links in emails (the wallboard's in an alert).
SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000").rstrip("/")

# Two-factor sign-in (contactcentre/two_factor.py): the name authenticator apps show beside the username.
OTP_TOTP_ISSUER = os.environ.get("TWO_FACTOR_ISSUER", "Contact centre")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# The widget script is loaded by other companies' sites: it must be fetchable cross-origin.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Behind a proxy that terminates TLS, the request reached the product as plain HTTP: the proxy says which
# scheme the client used in a header (TRUSTED_PROXY_SCHEME_HEADER, e.g. X-Forwarded-Proto), believed only
# when configured, since a client could send it too where no proxy overwrites it.
TRUSTED_PROXY_SCHEME_HEADER = os.environ.get("TRUSTED_PROXY_SCHEME_HEADER", "").strip()
if TRUSTED_PROXY_SCHEME_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + TRUSTED_PROXY_SCHEME_HEADER.upper().replace("-", "_"), "https")
# Plain HTTP is redirected to HTTPS in production behind a TLS proxy; the health check stays reachable
# over plain HTTP, where load balancers probe it.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG and bool(TRUSTED_PROXY_SCHEME_HEADER))
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
# Sent on HTTPS responses only: browsers then refuse plain HTTP to this host for that long.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)

# Content-Security-Policy (django-csp) on every page that does not set its own: scripts from the product's
# own files (an inline script would need the request's nonce, `request.csp_nonce`), styles from its own
# style sheets, no plugins, no framing, no <base>, forms posted to the product only. The widget's page sets
# its own policy, per queue (webchat/widget_views.py), which this leaves alone.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Powerful browser features the product never uses are off for its pages and anything they frame.
PERMISSIONS_POLICY = {
    feature: []
    for feature in [
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "usb",
        "xr-spatial-tracking",
    ]
}

# Proxies in front of the product that append to X-Forwarded-For; 0: use the connection's address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# WebSockets one client address may hold open in one server process (runtime.connection_limits).
WEBSOCKET_MAX_PER_IP = env_int("WEBSOCKET_MAX_PER_IP", 200)

# Metrics (runtime/metrics.py, docs/operations.md#metrics): `GET /metrics` of each server process answers a
# scrape carrying `Authorization: Bearer <METRICS_TOKEN>` and/or coming from METRICS_ALLOWED_NETWORKS (CIDR,
# comma-separated); with neither set the endpoint does not exist (404). The Celery worker serves its own on
# METRICS_WORKER_PORT (unset: none) at METRICS_WORKER_ADDRESS.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", [])
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {_network!r} is not a network") from None
METRICS_WORKER_PORT = env_int("METRICS_WORKER_PORT", 0)
METRICS_WORKER_ADDRESS = os.environ.get("METRICS_WORKER_ADDRESS", "127.0.0.1")

# Requests to addresses a company configures (its telephony URL) go only to public https hosts
# (runtime/outbound.py). On: loopback and private addresses, and plain http to them, are allowed too;
# for labs and tests only, never in production.
OUTBOUND_ALLOW_PRIVATE_ADDRESSES = env_bool("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", False)

# Webchat limits.
WEBCHAT_MAX_MESSAGE_CHARS = env_int("WEBCHAT_MAX_MESSAGE_CHARS", 4000)
WEBCHAT_MAX_NAME_CHARS = 80
WEBCHAT_RATE_PER_CHAT = env_int("WEBCHAT_RATE_PER_CHAT", 20)  # messages per 10 seconds
WEBCHAT_RATE_PER_IP = env_int("WEBCHAT_RATE_PER_IP", 30)  # chats opened per minute
WEBCHAT_TYPING_THROTTLE_SECONDS = 1.0
# How long after a chat's end its customer token still reads it (the transcript); 401 token_expired after.
WEBCHAT_TRANSCRIPT_READ_SECONDS = env_int("WEBCHAT_TRANSCRIPT_READ_SECONDS", 24 * 60 * 60)

# Server processes freeze what has survived a while out of the cyclic garbage collector's scans, and
# collect everything once per GC_FULL_SECONDS (runtime/collector.py); GC_FREEZE_SECONDS=0 leaves
# Python's default.
GC_FREEZE_SECONDS = env_int("GC_FREEZE_SECONDS", 5)
GC_FULL_SECONDS = env_int("GC_FULL_SECONDS", 900)
# An agent whose every connection has been gone this long is logged out for allocation.
AGENT_CONNECTION_GRACE_SECONDS = env_int("AGENT_CONNECTION_GRACE_SECONDS", 60)
AGENT_HEARTBEAT_SECONDS = env_int("AGENT_HEARTBEAT_SECONDS", 20)
# A chat an agent put back or transferred goes to anyone else first; after this long waiting it may be
# allocated to that agent again, when nobody else can take it.
PUT_BACK_REOFFER_SECONDS = env_int("PUT_BACK_REOFFER_SECONDS", 45)

# Logs go to standard output: one JSON object a line in production (runtime.logging), with the chat,
# agent and call ids that records carry; plain lines when DEBUG is on. LOG_FORMAT=plain|json overrides.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "runtime.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # Axes masks the account and the address in its lines and notes each clean-up: the product logs
        # every sign-in, failure and lockout itself (contactcentre.sign_in_limits).
        "axes": {"level": "WARNING"},
    },
}
# Celery workers and beat log through the same configuration instead of installing their own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Error reporting to Sentry (runtime/error_reporting.py): off unless SENTRY_DSN is set, and then started
# here, where every process (Daphne, the Celery worker and beat, management commands) reads its settings.
# SENTRY_RELEASE defaults to the checkout's commit when there is a .git to read it from.
SENTRY_DSN = os.environ.get("SENTRY_DSN", "").strip()
SENTRY_ENVIRONMENT = os.environ.get("SENTRY_ENVIRONMENT", "").strip()
try:
    SENTRY_TRACES_SAMPLE_RATE = float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "") or 0)
except ValueError:
    SENTRY_TRACES_SAMPLE_RATE = -1.0
if not 0 <= SENTRY_TRACES_SAMPLE_RATE <= 1:
    raise ImproperlyConfigured("SENTRY_TRACES_SAMPLE_RATE: a fraction between 0 and 1, such as 0.05")
if SENTRY_DSN:
    from runtime import error_reporting

    SENTRY_RELEASE = os.environ.get("SENTRY_RELEASE", "").strip() or error_reporting.checkout_commit(BASE_DIR)
    error_reporting.start(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        release=SENTRY_RELEASE,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )
