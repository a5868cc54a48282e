"""Who may still hold an agent socket, and the commands that reach every open socket of an agent.

An agent socket is opened with a Django session. When that session stops being valid (the user is
deactivated, their password changes, they sign out, the session expires or is deleted), every socket it
opened must close: the sockets of one agent may sit in several server processes, so the close goes through
the channel layer, to a group that each socket joined when it opened, never through in-process state.

Groups (besides those of routing.events):
- `agent_<membership id>`: every socket of the agent (deactivation, a password change, a profile change);
- `agent_session_<digest of the session key>`: the sockets opened with one session (signing out);
- `agents_<company id>`: every agent socket of the company (a queue or a profile changed).

The channel layer may drop a message: each socket also re-checks its session itself now and then
(`session_is_valid`, webchat.agent_socket), so a lost close only delays the end by seconds.
"""

import hashlib
import logging
from importlib import import_module

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.db import transaction
from django.utils.crypto import constant_time_compare

from routing.events import agent_group

logger = logging.getLogger(__name__)

# The consumer's handlers: AgentConsumer.agent_end and AgentConsumer.agent_refresh.
END = "agent.end"
REFRESH = "agent.refresh"


def session_group(session_key: str) -> str:
    # A digest: the key is a credential, and group names are visible to whoever can read Redis.
    return f"agent_session_{hashlib.sha256(session_key.encode()).hexdigest()[:48]}"


def company_agents_group(company_id: int) -> str:
    return f"agents_{company_id}"


def session_is_valid(*, session_key: str | None, user_id: int) -> bool:
    """Whether the session still signs this user in, as Django's own check on each request decides it: the
    session exists and has not expired, names this user, the user is active and the session was made with
    their current password."""
    if not session_key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    data = store.load()
    if str(data.get(SESSION_KEY, "")) != str(user_id):
        return False
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    session_hash = data.get(HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(session_hash, each) for each in hashes)


def signed_in_since(*, user_id: int, moment) -> bool:
    """Whether the user signed in (in some other session) after `moment`."""
    return (
        get_user_model().objects.filter(pk=user_id, last_login__isnull=False, last_login__gt=moment).exists()
    )


def end_sockets(*, agent_id: int | None = None, session_key: str | None = None, reason: str) -> None:
    """Close, once the current transaction commits, every socket of the agent or of the session."""
    groups = []
    if agent_id is not None:
        groups.append(agent_group(agent_id))
    if session_key:
        groups.append(session_group(session_key))
    _send_on_commit(groups, {"type": END, "reason": reason})


def refresh_sockets(*, agent_ids=(), company_ids=()) -> None:
    """Once the current transaction commits, the agents' open sockets (or every agent socket of the
    companies) re-read what the agent may hear, leave and join queue groups to match, and tell their page to
    re-fetch its parts."""
    groups = [agent_group(pk) for pk in agent_ids] + [company_agents_group(pk) for pk in company_ids]
    _send_on_commit(groups, {"type": REFRESH})


def _send_on_commit(groups: list[str], message: dict) -> None:
    if groups:
        transaction.on_commit(lambda: _send(groups, message))


def _send(groups: list[str], message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(_send_all)(layer, groups, message)
    except Exception:
        # The sockets' own re-checks catch what this misses; the change itself is committed.
        logger.exception("could not tell the agent sockets %s", message["type"], extra={"groups": groups})


async def _send_all(layer, groups: list[str], message: dict) -> None:
    for group in groups:
        await layer.group_send(group, message)
