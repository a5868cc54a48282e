"""`manage.py demo_codes`: the codes the demo's authenticator keys give now, for trying the demo without an
authenticator app. It computes them from the documented keys alone: it reads no database and knows no other
login's key."""

import time
from base64 import b32decode

from django.core.management.base import BaseCommand
from django_otp.oath import TOTP

from contactcentre.management.commands.seed_demo import demo_logins

STEP_SECONDS = 30


class Command(BaseCommand):
    help = "Print the current two-factor codes of the demo's supervisor and administrator."
    requires_system_checks = []

    def handle(self, *args, **options) -> None:
        now = time.time()
        left = STEP_SECONDS - int(now) % STEP_SECONDS
        for login in demo_logins():
            if "totp_secret" not in login:
                continue
            totp = TOTP(b32decode(login["totp_secret"]), step=STEP_SECONDS)
            totp.time = now
            self.stdout.write(f"{login['username']:<8}{totp.token():06d}  (for {left} more seconds)")
