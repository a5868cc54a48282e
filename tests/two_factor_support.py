"""Two-factor sign-in in tests: give a user an authenticator, compute its codes, log in with it done."""

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


def give_authenticator(user) -> TOTPDevice:
    """The user's confirmed authenticator app (made if they have none)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def code_now(device: TOTPDevice) -> str:
    """The six digits the user's app shows now."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"


def wrong_code(device: TOTPDevice) -> str:
    """Six digits that are not the code the app shows now."""
    return f"{(int(code_now(device)) + 1) % 10**6:06d}"


def log_in_verified(client: Client, user) -> Client:
    """Log the user in as if they had passed their second step (the test client's force_login, then the
    session marked verified by their authenticator): for tests of what a signed-in supervisor or
    administrator sees, not of signing in."""
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = give_authenticator(user).persistent_id
    session.save()
    return client
