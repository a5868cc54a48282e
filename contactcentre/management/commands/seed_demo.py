"""`manage.py seed_demo [--json] [--force]`: a demo company to try the product with, created once and kept.

Running it again creates nothing new. It only sets the demo logins' passwords, and the supervisor's and the
administrator's authenticator keys, back to the documented ones, so that the logins it prints always work.
Those passwords and keys are published, so it refuses to run when DEBUG is off (production) unless told
`--force` (a benchmark, a fault run or a staging deployment).
"""

import json
from base64 import b32decode
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactcentre.models import Company, Membership, Role
from routing.models import BreakReason, QueueProfile, VoiceQueue, WebchatQueue
from webchat.models import Classification, ResponseTemplate

User = get_user_model()

DEMO_COMPANY_SLUG = "demo"
DEMO_COMPANY_NAME = "Demo Company"
DEMO_QUEUES = (("Sales", True), ("Support", False))  # name, auto-allocate
DEMO_VOICE_QUEUE = ("Switchboard", "switchboard")  # name, slug
DEMO_PROFILE_NAME = "All queues"
DEMO_BREAK_REASONS = (("Lunch", False), ("Training", False), ("Short break", True))  # name, interruptible
DEMO_TEMPLATES = (
    ("Greeting", "Hello {customer_name}, this is {agent_name}. How can I help you today?"),
    ("One moment", "Thank you, {customer_name}. One moment while I look into that for you."),
    ("Still there?", "Are you still there, {customer_name}?"),
    ("Goodbye", "Thank you for chatting with {company_name}, {customer_name}. Have a good day!"),
)
DEMO_CLASSIFICATIONS = (("SALE", "Sale"), ("QUERY", "Query"), ("COMPLAINT", "Complaint"), ("OTHER", "Other"))


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: Role
    first_name: str
    extension: str = ""
    takes_chats_and_calls: bool = False
    # The authenticator key (base32) of a role that must sign in with two factors; documented, as the
    # password is: this is a demo.
    totp_secret: str = ""


DEMO_USERS = (
    DemoUser("alice", "demo-password-1", Role.AGENT, "Alice", "201", takes_chats_and_calls=True),
    DemoUser("bob", "demo-password-2", Role.AGENT, "Bob", "202", takes_chats_and_calls=True),
    DemoUser(
        "sam", "demo-password-3", Role.SUPERVISOR, "Sam", totp_secret="DEMOSAMSUPERVISORTWOFACTORSECRET"
    ),
    DemoUser(
        "ada", "demo-password-4", Role.ADMINISTRATOR, "Ada", totp_secret="DEMOADAADMINISTRATORTWOFACTORKEY"
    ),
)


def demo_logins() -> list[dict]:
    """The demo logins as documented: what `seed_demo` creates and the start-up banner shows.

    A login whose role must sign in with two factors carries its authenticator key (`totp_secret`).
    """
    return [_login(user) for user in DEMO_USERS]


def _login(user: DemoUser) -> dict:
    login = {"username": user.username, "password": user.password, "role": user.role.value}
    if user.totp_secret:
        login["totp_secret"] = user.totp_secret
    return login


@transaction.atomic
def seed_demo() -> dict:
    """Create whatever of the demo is missing and describe it as `seed_demo --json` prints it."""
    company, _ = Company.objects.get_or_create(slug=DEMO_COMPANY_SLUG, defaults={"name": DEMO_COMPANY_NAME})
    queues = [
        WebchatQueue.objects.get_or_create(
            company=company, name=name, defaults={"auto_allocate": auto_allocate}
        )[0]
        for name, auto_allocate in DEMO_QUEUES
    ]
    voice_name, voice_slug = DEMO_VOICE_QUEUE
    voice_queue, _ = VoiceQueue.objects.get_or_create(
        company=company, slug=voice_slug, defaults={"name": voice_name}
    )
    profile, _ = QueueProfile.objects.get_or_create(
        company=company, name=DEMO_PROFILE_NAME, defaults={"all_queues": True}
    )
    for name, interruptible in DEMO_BREAK_REASONS:
        BreakReason.objects.get_or_create(
            company=company, name=name, defaults={"interruptible": interruptible}
        )
    for title, text in DEMO_TEMPLATES:
        ResponseTemplate.objects.get_or_create(company=company, title=title, defaults={"text": text})
    for code, label in DEMO_CLASSIFICATIONS:
        Classification.objects.get_or_create(company=company, code=code, defaults={"label": label})
    memberships = [
        _seed_member(company=company, demo_user=demo_user, profile=profile, voice_queue=voice_queue)
        for demo_user in DEMO_USERS
    ]
    return {
        "company": company.slug,
        "queues": [
            {"name": queue.name, "token": queue.token, "auto_allocate": queue.auto_allocate}
            for queue in queues
        ],
        "voice_queues": [{"slug": voice_queue.slug}],
        "telephony_secret": company.telephony_secret,
        "users": [
            {**_login(demo_user), "role": membership.role}
            for demo_user, membership in zip(DEMO_USERS, memberships, strict=True)
        ],
    }


def _seed_member(
    *, company: Company, demo_user: DemoUser, profile: QueueProfile, voice_queue: VoiceQueue
) -> Membership:
    user, created = User.objects.get_or_create(
        username=demo_user.username,
        defaults={"first_name": demo_user.first_name, "is_staff": demo_user.role == Role.ADMINISTRATOR},
    )
    membership = Membership.objects.filter(user=user).first()
    if not created and (membership is None or membership.company_id != company.pk):
        # Never reset the password of somebody's real login that happens to share a demo name.
        raise CommandError(
            f"A login named {user.username!r} exists outside the demo company; it is left alone."
        )
    if created or not user.is_active or not user.check_password(demo_user.password):
        user.set_password(demo_user.password)
        user.is_active = True
        user.save()
    if membership is None:
        membership = Membership.objects.create(
            user=user,
            company=company,
            role=demo_user.role,
            extension=demo_user.extension,
            can_webchat=demo_user.takes_chats_and_calls,
            can_voice=demo_user.takes_chats_and_calls,
            queue_profile=profile if demo_user.takes_chats_and_calls else None,
        )
        if demo_user.takes_chats_and_calls:
            membership.voice_queues.add(voice_queue)
    if demo_user.totp_secret:
        _seed_authenticator(user=user, secret=demo_user.totp_secret)
    return membership


def _seed_authenticator(*, user, secret: str) -> None:
    """The one confirmed authenticator with the documented key, unslowed by earlier wrong codes."""
    key = b32decode(secret).hex()
    devices = list(TOTPDevice.objects.filter(user=user))
    if len(devices) == 1 and devices[0].key == key and devices[0].confirmed:
        if devices[0].throttling_failure_count:
            devices[0].throttle_reset()
        return
    TOTPDevice.objects.filter(user=user).delete()
    TOTPDevice.objects.create(user=user, name="Authenticator app", key=key, confirmed=True)


class Command(BaseCommand):
    help = "Create a demo company with queues, agents, a supervisor and an administrator (kept if it exists)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print only the demo's details, as JSON."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed the demo even when DEBUG is off (production): its logins have published passwords.",
        )

    def handle(self, *args, as_json: bool = False, force: bool = False, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to seed the demo: DEBUG is off, which is how production runs, and the demo's "
                "logins (alice, bob, sam, ada) have published passwords. Run it with DEBUG=1, or add --force "
                "if this really is a deployment for trying the product out."
            )
        demo = seed_demo()
        if as_json:
            self.stdout.write(json.dumps(demo))
            return
        self.stdout.write(f"Demo company “{DEMO_COMPANY_NAME}” ({demo['company']}) is ready.")
        for queue in demo["queues"]:
            mode = "auto-allocating" if queue["auto_allocate"] else "agents take chats"
            self.stdout.write(f"  Webchat queue {queue['name']} ({mode}), token {queue['token']}")
        for voice_queue in demo["voice_queues"]:
            self.stdout.write(f"  Voice queue {voice_queue['slug']}")
        self.stdout.write("Logins (username / password, role):")
        for user in demo["users"]:
            key = f", authenticator key {user['totp_secret']}" if "totp_secret" in user else ""
            self.stdout.write(f"  {user['username']} / {user['password']}, {user['role']}{key}")
