"""The bench's data, made in this (orchestrator) process through Django's ORM before each scenario's load.

Setup is not what is measured, so large fixtures are bulk-inserted in the states a scenario needs (a chat
already active with its agent, ten thousand chats waiting); what a scenario measures (allocation, messages,
pages) goes through the deployment. Each scenario has its own company, so the SQL checks of one are not
disturbed by another's fixtures.
"""

import os
import secrets
import string
import subprocess
from dataclasses import dataclass
from datetime import timedelta

import psycopg

from bench.common import DB_ADMIN_URL, DB_NAME, PYTHON, ROOT, log

_django_ready = False


def prepare_database(env: dict) -> None:
    """A fresh database for the run: dropped, created and migrated. Only the bench's own database."""
    with psycopg.connect(DB_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    log(f"database {DB_NAME} created and migrated")


def setup_django(env: dict) -> None:
    global _django_ready
    if _django_ready:
        return
    for key in (
        "DJANGO_SETTINGS_MODULE",
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "DEBUG",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "WEBCHAT_RATE_PER_IP",
        "WEBCHAT_RATE_PER_CHAT",
        "AGENT_CONNECTION_GRACE_SECONDS",
        "JOB_INTERVAL_SECONDS",
        "CHANNEL_LAYER_PREFIX",
        "LOG_LEVEL",
    ):
        os.environ[key] = env[key]
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    import django

    django.setup()
    _django_ready = True


@dataclass(frozen=True)
class Agent:
    membership_id: int
    user_id: int
    username: str
    session_key: str


def _random_key(length: int = 32) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def company(slug: str, *, default_max_chats: int = 3):
    from contactcentre.models import Company

    return Company.objects.create(
        name=f"Bench {slug}", slug=slug, default_max_chats_per_agent=default_max_chats
    )


def queue(company, name: str, *, auto_allocate: bool, **fields):
    from routing.models import WebchatQueue

    fields.setdefault("max_queue_length", 100_000_000)
    return WebchatQueue.objects.create(company=company, name=name, auto_allocate=auto_allocate, **fields)


def profile_all(company):
    from routing.models import QueueProfile

    return QueueProfile.objects.create(company=company, name="All queues", all_queues=True)


def agents(company, profile, n: int, *, prefix: str, presence: str = "available") -> list[Agent]:
    """n agents with a Django session each (the cookie the agent socket and inbox pages authenticate with)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from contactcentre.models import Membership

    User = get_user_model()
    now = timezone.now()
    unusable = make_password(None)
    users = User.objects.bulk_create(
        [User(username=f"{prefix}{i}", first_name=f"Agent {i}", password=unusable) for i in range(n)],
        batch_size=2000,
    )
    members = Membership.objects.bulk_create(
        [
            Membership(
                user=user,
                company=company,
                queue_profile=profile,
                can_webchat=True,
                presence=presence,
                presence_since=now,
                last_seen_at=now,
            )
            for user in users
        ],
        batch_size=2000,
    )
    store = SessionStore()
    sessions, result = [], []
    for user, member in zip(users, members, strict=True):
        key = _random_key()
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        sessions.append(
            Session(session_key=key, session_data=store.encode(data), expire_date=now + timedelta(days=2))
        )
        result.append(Agent(member.pk, user.pk, user.username, key))
    Session.objects.bulk_create(sessions, batch_size=2000)
    return result


def chats(
    queue, n: int, *, state: str, agent_ids: list[int] | None = None, age_seconds: float = 600, **fields
) -> list[str]:
    """n chats of the queue in `state`, oldest first; held chats go to `agent_ids` in turn."""
    from django.utils import timezone

    from webchat.models import Chat

    now = timezone.now()
    rows = []
    for i in range(n):
        at = now - timedelta(seconds=age_seconds * (n - i) / max(n, 1))
        chat = Chat(
            company_id=queue.company_id,
            queue=queue,
            state=state,
            customer_name=f"Customer {i}",
            created_at=at,
            queued_at=at,
            **fields,
        )
        if agent_ids:
            chat.agent_id = agent_ids[i % len(agent_ids)]
            chat.allocated_at = at
        if state == "active":
            chat.activated_at = now
            chat.answered_at = now
        if state == "closed":
            chat.closed_at = at
            chat.ended_at = at
            chat.outcome = "completed"
        rows.append(chat)
    Chat.objects.bulk_create(rows, batch_size=2000)
    return [str(chat.pk) for chat in rows]


def customer_tokens(chat_ids: list[str]) -> dict[str, str]:
    from webchat.tokens import customer_token_for

    return {chat_id: customer_token_for(chat_id=chat_id) for chat_id in chat_ids}


def messages(chat_id: str, n: int, *, agent_id: int | None = None) -> None:
    """n stored messages alternating customer and agent, as the engine would have stored them."""
    from django.utils import timezone

    from webchat.models import Chat, Message

    now = timezone.now()
    rows = []
    for seq in range(1, n + 1):
        agent_turn = seq % 2 == 0 and agent_id is not None
        rows.append(
            Message(
                chat_id=chat_id,
                seq=seq,
                client_id=f"fixture-{seq}",
                sender="agent" if agent_turn else "customer",
                agent_id=agent_id if agent_turn else None,
                agent_name="Agent" if agent_turn else "",
                text=f"Fixture message {seq}: how can I help you with your order today?",
                sent_at=now - timedelta(seconds=n - seq),
            )
        )
    Message.objects.bulk_create(rows)
    Chat.objects.filter(pk=chat_id).update(last_seq=n)


def pg_stats() -> dict:
    """The bench database's counters (transactions, rows, backends) from pg_stat_database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated,"
            " numbackends, sessions FROM pg_stat_database WHERE datname = %s",
            [DB_NAME],
        )
        row = cursor.fetchone()
    keys = [
        "xact_commit",
        "xact_rollback",
        "tup_returned",
        "tup_fetched",
        "tup_inserted",
        "tup_updated",
        "numbackends",
        "sessions",
    ]
    return dict(zip(keys, row, strict=True))


def pg_backends() -> int:
    """Open connections to the bench database right now."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [DB_NAME])
        return cursor.fetchone()[0]


def pg_stat_snapshot_clear() -> None:
    """Make the next pg_stat_database read see fresh counters (PostgreSQL caches them per transaction)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
