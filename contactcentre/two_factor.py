"""Two-factor sign-in: a code from an authenticator app (TOTP) or a single-use recovery code, by django-otp.

Administrators, supervisors, staff and superusers must have it; an agent may turn it on. Signing in is two
steps: the password starts a half-login kept in the session (the user is not logged in yet), and the code
(or, for a user who must have two-factor sign-in but has not set it up, enrolment) completes it. Only then
is the user logged in and the session marked verified (`django_otp.login`).

A session that is logged in but owes its second step (made before the requirement applied to the user, or
by other means than the login page) reaches no page: `TwoFactorMiddleware` ends it and starts the
half-login for the same user in its place.
"""

import io
import math
import time
from base64 import b32encode
from dataclasses import dataclass

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactcentre.models import Membership, Role
from routing import engine

RECOVERY_CODE_COUNT = 10
# Wrong codes one half-login may try before it is ended (the devices' own throttling slows each try too).
MAX_WRONG_CODES = 5
# How long a half-login waits for its second step.
PENDING_SECONDS = 10 * 60
PENDING_SESSION_KEY = "two_factor_pending"
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


class CodeRefused(Exception):
    """A code that does not complete the step, with the message to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Requirement:
    required: bool
    has_device: bool

    @property
    def second_step(self) -> bool:
        return self.required or self.has_device


def requirement(user) -> Requirement:
    """Whether the user must have two-factor sign-in and whether they have set it up (one query)."""
    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .annotate(
            role=Subquery(Membership.objects.filter(user=OuterRef("pk")).values("role")[:1]),
            has_device=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
        )
        .values("is_staff", "is_superuser", "role", "has_device")
        .first()
    )
    if row is None:
        return Requirement(required=False, has_device=False)
    required = row["is_staff"] or row["is_superuser"] or row["role"] in (Role.SUPERVISOR, Role.ADMINISTRATOR)
    return Requirement(required=required, has_device=row["has_device"])


# The half-login.


def begin(request: HttpRequest, *, user, next_url: str) -> HttpResponse:
    """The password was right: remember who is signing in, and send them to their second step."""
    request.session.cycle_key()
    request.session[PENDING_SESSION_KEY] = {
        "user": user.pk,
        "backend": user.backend,
        "hash": user.get_session_auth_hash(),
        "next": next_url,
        "started": time.time(),
        "wrong": 0,
    }
    return redirect("login_code" if requirement(user).has_device else "two_factor_enrol")


def pending_user(request: HttpRequest):
    """The user whose half-login this session holds, or None (none, expired, or the password changed)."""
    pending = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - pending.get("started", 0) > PENDING_SECONDS:
        return None
    user = get_user_model().objects.filter(pk=pending.get("user"), is_active=True).first()
    if user is None or not constant_time_compare(user.get_session_auth_hash(), pending.get("hash", "")):
        return None
    return user


def count_wrong_code(request: HttpRequest) -> bool:
    """Count a wrong code against the half-login; True when that was one too many and it has ended."""
    pending = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(pending, dict):
        return True
    pending["wrong"] = pending.get("wrong", 0) + 1
    if pending["wrong"] >= MAX_WRONG_CODES:
        request.session.flush()
        return True
    request.session[PENDING_SESSION_KEY] = pending
    return False


def complete(request: HttpRequest, *, user, device: Device) -> str:
    """Log the user in with their second step done; the agent becomes Available. Returns where to go."""
    pending = request.session.pop(PENDING_SESSION_KEY)
    auth.login(request, user, backend=pending["backend"])
    mark_verified(request, device)
    agent = Membership.objects.filter(user=user).first()
    if agent is not None:
        engine.agent_login(agent=agent)
    return pending["next"]


def mark_verified(request: HttpRequest, device: Device) -> None:
    request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    request.user.otp_device = device


def safe_next(request: HttpRequest, url: str | None) -> str:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse(settings.LOGIN_REDIRECT_URL)


# Codes.


def normalised(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def verify(user, *, code: str) -> Device:
    """The device that accepts the code: six digits from the authenticator app, or a recovery code
    (used up by this). Locks the user's devices of that kind while checking, so that one recovery code
    cannot be used by two requests at once. Raises CodeRefused with what to tell the user."""
    token = normalised(code)
    if not token:
        raise CodeRefused("Enter the code.")
    if not (token.isascii() and token.isalnum() and len(token) <= 16):
        raise CodeRefused("That is not a code: enter the six digits your app shows, or a recovery code.")
    totp = token.isdigit() and len(token) == 6
    model = TOTPDevice if totp else StaticDevice
    wait = None
    with transaction.atomic():
        for device in model.objects.devices_for_user(user, confirmed=True).select_for_update():
            allowed, details = device.verify_is_allowed()
            if not allowed:
                locked_until = (details or {}).get("locked_until") or timezone.now()
                wait = max(wait or 1, math.ceil((locked_until - timezone.now()).total_seconds()))
                continue
            if device.verify_token(token):
                return device
    if wait is not None:
        raise CodeRefused(f"Too many wrong codes. Wait {wait} second{pluralize(wait)}, then try again.")
    if totp:
        raise CodeRefused(
            "That code is not right. Enter the newest six-digit code your authenticator app shows."
        )
    raise CodeRefused("That is not one of your recovery codes, or it has been used already.")


def enrolment_device(user) -> TOTPDevice:
    """The authenticator being set up: the same secret until it is confirmed, so a reload keeps the QR."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def confirm_enrolment(user, *, code: str) -> tuple[TOTPDevice, list[str]]:
    """The code proves the app has the secret: it becomes the user's one authenticator, replacing any
    earlier one, and the recovery codes are made anew. Locks the device being set up."""
    token = normalised(code)
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        )
        if device is None:
            raise CodeRefused("Setting up took too long. Scan the new code below and try again.")
        if not (token.isascii() and token.isdigit() and len(token) == 6 and device.verify_token(token)):
            raise CodeRefused(
                "That code is not right. Enter the six-digit code your authenticator app shows now."
            )
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = new_recovery_codes(user)
    return device, codes


@transaction.atomic
def new_recovery_codes(user) -> list[str]:
    """Ten fresh recovery codes, each good once; the earlier ones stop working."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def turn_off(user) -> None:
    """Remove the authenticator and the recovery codes (only for those who need not have them)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def secret_for_typing(device: TOTPDevice) -> str:
    """The base32 secret in groups of four, for an app that cannot scan."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code."""
    out = io.BytesIO()
    qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2).save(out)
    svg = out.getvalue().decode()
    return svg[svg.index("<svg") :]


# Sessions that owe their second step.


class TwoFactorMiddleware:
    """A logged-in session whose user must pass a second step, and has not in this session, reaches no
    page: it is ended (the agent's chats go back to their queues) and a half-login for the same user
    takes its place, at the code step or at enrolment."""

    EXEMPT_PREFIXES = ("/api/", "/healthz", "/metrics")

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._owes_second_step(request):
            return self._to_second_step(request)
        return self.get_response(request)

    def _owes_second_step(self, request: HttpRequest) -> bool:
        if request.path.startswith(self.EXEMPT_PREFIXES) or request.path == reverse("logout"):
            return False
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return False
        return requirement(user).second_step

    def _to_second_step(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        user.backend = request.session.get(auth.BACKEND_SESSION_KEY, settings.AUTHENTICATION_BACKENDS[0])
        agent = Membership.objects.filter(user=user).first()
        if agent is not None:
            engine.agent_logout(agent=agent)
        auth.logout(request)
        next_url = request.get_full_path() if request.method == "GET" and not request.htmx else ""
        response = begin(request, user=user, next_url=safe_next(request, next_url))
        if request.htmx:
            return HttpResponseClientRedirect(response.url)
        return response
