"""The company a fault run works with: queues, agents with sessions, a telephony secret."""

import hashlib
import hmac
import json
import random
import uuid
from dataclasses import dataclass

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore

from contactcentre.models import Company, Membership, Role
from routing import engine
from routing.models import QueueProfile, VoiceQueue, WebchatQueue


@dataclass
class World:
    company: Company
    queue: WebchatQueue
    voice_queue: VoiceQueue
    agents: list[tuple[int, str]]  # (membership id, session key)


def build(*, agents: int, capacity: int, wrapup_seconds: int = 2, name: str | None = None) -> World:
    """A company with one auto-allocating webchat queue, one voice queue and `agents` agents (webchat and
    voice, every queue, `capacity` chats each), logged in and Available, each with a session cookie."""
    slug = name or f"faults-{uuid.uuid4().hex[:8]}"
    company = Company.objects.create(name=slug, slug=slug, default_max_chats_per_agent=capacity)
    queue = WebchatQueue.objects.create(
        company=company,
        name="Webchat",
        auto_allocate=True,
        max_queue_length=1000,
        wrapup_seconds=wrapup_seconds,
        reply_alert_seconds=30,
    )
    voice_queue = VoiceQueue.objects.create(
        company=company, name="Switchboard", slug="switchboard", ring_timeout_seconds=4, wrapup_seconds=1
    )
    profile = QueueProfile.objects.create(company=company, name="All", all_queues=True)
    members = []
    for n in range(1, agents + 1):
        user = get_user_model().objects.create_user(username=f"{slug}-agent{n}", first_name=f"Agent{n}")
        membership = Membership.objects.create(
            user=user,
            company=company,
            role=Role.AGENT,
            can_webchat=True,
            can_voice=True,
            queue_profile=profile,
            extension=str(2000 + n),
        )
        membership.voice_queues.add(voice_queue)
        members.append((membership.pk, session_for(user)))
    for membership_id, _ in members:
        engine.agent_login(agent=Membership.objects.get(pk=membership_id))
    return World(company=company, queue=queue, voice_queue=voice_queue, agents=members)


def session_for(user) -> str:
    """A signed-in session for the user, as the login page would make; its key is the session cookie."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def signed(company: Company, event: dict) -> tuple[bytes, dict]:
    """A telephony event's body and headers, signed with the company's secret."""
    body = json.dumps(event).encode()
    digest = hmac.new(company.telephony_secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Contact-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def shuffled(items: list, rng: random.Random) -> list:
    items = list(items)
    rng.shuffle(items)
    return items
