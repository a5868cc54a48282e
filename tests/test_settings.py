"""The settings module picks the embedded parts with no environment and the production ones with it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from contactcentre.settings import DEFAULT_SECRET_KEY

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Imports the settings module in a fresh interpreter, without setting Django up, and reports the choices.
PROBE = """
import json
from contactcentre import settings
print(json.dumps({
    "database": settings.DATABASES["default"]["ENGINE"],
    "database_name": str(settings.DATABASES["default"]["NAME"]),
    "database_conn_max_age": settings.DATABASES["default"].get("CONN_MAX_AGE"),
    "database_pool": settings.DATABASES["default"].get("OPTIONS", {}).get("pool"),
    "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "channel_layer_config": settings.CHANNEL_LAYERS["default"].get("CONFIG"),
    "jobs_in_process": settings.JOBS_IN_PROCESS,
    "celery_broker": settings.CELERY_BROKER_URL,
    "celery_beat_schedule": settings.CELERY_BEAT_SCHEDULE,
    "debug": settings.DEBUG,
    "proxy_ssl_header": getattr(settings, "SECURE_PROXY_SSL_HEADER", None),
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
    "ssl_redirect_exempt": settings.SECURE_REDIRECT_EXEMPT,
    "hsts_seconds": settings.SECURE_HSTS_SECONDS,
    "hsts_include_subdomains": settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,
    "password_validators": [each["NAME"].rsplit(".", 1)[1] for each in settings.AUTH_PASSWORD_VALIDATORS],
    "login_failure_limit": settings.AXES_FAILURE_LIMIT,
    "login_cooloff_seconds": settings.AXES_COOLOFF_TIME.total_seconds(),
}, default=repr))
"""

PRODUCTION = {
    "DATABASE_URL": "postgres://contactcentre@db.internal:5432/contactcentre",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "SECRET_KEY": "a-long-random-production-secret",
}


def import_settings(**environment: str) -> subprocess.CompletedProcess:
    """Import the settings with only these variables set (and what the interpreter itself needs)."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(PROJECT_DIR), **environment}
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )


def settings_with(**environment: str) -> dict:
    result = import_settings(**environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_with_no_environment_it_runs_embedded():
    settings = settings_with()

    assert settings["database"] == "django.db.backends.sqlite3"
    assert settings["database_name"] == str(PROJECT_DIR / "db.sqlite3")
    assert settings["channel_layer"] == "channels.layers.InMemoryChannelLayer"
    assert settings["jobs_in_process"] is True
    assert settings["debug"] is True


def test_with_database_and_redis_urls_it_uses_postgresql_redis_and_celery():
    settings = settings_with(**PRODUCTION)

    assert settings["database"] == "runtime.postgresql"
    assert settings["channel_layer"] == "runtime.channel_layer.PubSubChannelLayer"
    assert settings["jobs_in_process"] is False
    assert settings["celery_broker"] == PRODUCTION["REDIS_URL"]
    assert settings["celery_beat_schedule"]
    assert all(entry["task"] and entry["schedule"] > 0 for entry in settings["celery_beat_schedule"].values())
    assert settings["debug"] is False


def test_the_redis_channel_layer_holds_far_more_than_a_hundred_connections():
    config = settings_with(**PRODUCTION)["channel_layer_config"]

    # The channels_redis default (a pool of 100) makes a process fail near 100 WebSocket connections.
    assert all(host["max_connections"] >= 1000 for host in config["hosts"])


def test_database_connections_come_from_a_bounded_pool_not_one_per_request_thread():
    settings = settings_with(**PRODUCTION)

    assert settings["database_conn_max_age"] == 0
    assert 0 < settings["database_pool"]["max_size"] <= 100


@pytest.mark.parametrize(
    "environment",
    [
        {"DEBUG": "0"},
        {"DATABASE_URL": PRODUCTION["DATABASE_URL"]},
        {"DEBUG": "off", "SECRET_KEY": DEFAULT_SECRET_KEY},
    ],
)
def test_it_refuses_to_start_with_debug_off_and_the_default_secret(environment):
    result = import_settings(**environment)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr


def test_it_starts_with_debug_off_and_a_secret_of_its_own():
    assert settings_with(DEBUG="0", SECRET_KEY=PRODUCTION["SECRET_KEY"])["debug"] is False


def test_without_a_proxy_scheme_header_configured_no_header_makes_a_request_https():
    settings = settings_with(**PRODUCTION)

    assert settings["proxy_ssl_header"] is None
    assert settings["ssl_redirect"] is False


def test_behind_a_tls_proxy_its_scheme_header_is_believed_and_plain_http_is_redirected():
    settings = settings_with(**PRODUCTION, TRUSTED_PROXY_SCHEME_HEADER="X-Forwarded-Proto")

    assert settings["proxy_ssl_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert settings["ssl_redirect"] is True
    # Load balancers probe the health check, and Prometheus scrapes each process, over plain HTTP.
    assert settings["ssl_redirect_exempt"] == ["^healthz$", "^metrics$"]


def test_the_redirect_to_https_can_be_left_to_the_proxy():
    settings = settings_with(
        **PRODUCTION, TRUSTED_PROXY_SCHEME_HEADER="X-Forwarded-Proto", SECURE_SSL_REDIRECT="0"
    )

    assert settings["proxy_ssl_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert settings["ssl_redirect"] is False


def test_production_asks_browsers_for_https_for_a_year_unless_told_otherwise():
    assert settings_with(**PRODUCTION)["hsts_seconds"] == 31_536_000
    assert settings_with()["hsts_seconds"] == 0

    configured = settings_with(**PRODUCTION, SECURE_HSTS_SECONDS="300", SECURE_HSTS_INCLUDE_SUBDOMAINS="1")
    assert (configured["hsts_seconds"], configured["hsts_include_subdomains"]) == (300, True)


def test_passwords_must_be_long_uncommon_and_not_only_digits_in_every_mode():
    for settings in (settings_with(), settings_with(**PRODUCTION)):
        assert {"MinimumLengthValidator", "CommonPasswordValidator", "NumericPasswordValidator"} <= set(
            settings["password_validators"]
        )


def test_the_sign_in_limit_and_cool_off_come_from_the_environment():
    settings = settings_with(**PRODUCTION, LOGIN_FAILURE_LIMIT="5", LOGIN_COOLOFF_MINUTES="30")

    assert (settings["login_failure_limit"], settings["login_cooloff_seconds"]) == (5, 1800)
