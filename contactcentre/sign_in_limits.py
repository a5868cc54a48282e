"""Signing in is throttled per account and per address (django-axes), and every attempt is logged.

Axes counts failed sign-ins to the inbox and to the admin through the authentication backend and refuses
an account, or an address, that has failed too often until its cool-off has passed. The address is the
one the product believes everywhere else: X-Forwarded-For only as far as the trusted proxies wrote it.
"""

import logging
from datetime import timedelta
from math import ceil

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from runtime.client_address import request_client_address

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str | None:
    """The signing-in client's address (AXES_CLIENT_IP_CALLABLE), by the product's one proxy rule.

    None when there is no address to believe (no socket address, a proxy that wrote something else): those
    attempts are counted together.
    """
    return request_client_address(request)


def lockout_response(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """The page a locked-out account or address sees (AXES_LOCKOUT_CALLABLE): when to try again, in words.

    Axes passes the original response and the credentials in an order that differs between its sync and
    async paths; neither is needed here.
    """
    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    minutes = max(1, ceil(cool_off.total_seconds() / 60))
    response = render(
        request,
        "registration/locked_out.html",
        {"minutes": minutes, "admin": request.path.startswith("/admin/")},
        status=429,
    )
    # Every refused attempt starts the cool-off again (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so a
    # whole cool-off from now is when a try may succeed.
    response["Retry-After"] = str(max(1, ceil(cool_off.total_seconds())))
    return response


def _username(credentials: dict | None) -> str:
    return str((credentials or {}).get("username", ""))[:150]


@receiver(user_logged_in)
def log_sign_in(sender, request: HttpRequest | None, user, **kwargs) -> None:
    logger.info(
        "signed in",
        extra={
            "username": user.get_username(),
            "user_id": user.pk,
            "client_ip": (client_ip(request) if request is not None else None) or "",
        },
    )


@receiver(user_login_failed)
def log_failed_sign_in(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    logger.warning(
        "sign-in failed",
        extra={
            "username": _username(credentials),
            "client_ip": (client_ip(request) if request is not None else None) or "",
        },
    )


@receiver(user_locked_out)
def log_lockout(sender, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs) -> None:
    logger.warning(
        "sign-in locked out after too many failures",
        extra={"username": (username or "")[:150], "client_ip": ip_address or ""},
    )
