"""The agent's status history: an AgentStatusInterval for each stretch of the status their screen shows.

Every transition that may change an agent's shown status (presence, login and logout, a chat made active,
parked, put back, transferred or ended, a wrap-up started, completed or expired, a call offered, answered,
ended or wrapped up) calls `_record_status` in its own transaction, after saving what it changed and while
holding the agent's lock. The status is the one `routing.selectors.agent_status` derives (the one rule of
what an agent shows); this module only writes it down: when it differs from the agent's open interval (a
different status, or another break reason), the open interval ends now and a new one starts now. The
agent's lock orders these writes, and the constraint `agent_status_one_open` (one open interval per agent)
proves it: two open intervals of one agent cannot be stored.

Unavailable is what a logged-out agent shows (logging out is the only way to it), so it is recorded as
`logged_out`; an agent with no history who is logged out gets none (nothing to close). Posting a message
changes no status and never comes here.
"""

from datetime import datetime

from contactcentre.models import Membership
from routing import selectors
from routing.models import AgentStatusInterval

Status = AgentStatusInterval.Status


def _recorded_status(agent: Membership) -> tuple[str, int | None]:
    """The status to record for the agent as their transition left them, and its break reason."""
    shown = selectors.agent_status(agent).code
    if shown == Status.UNAVAILABLE:
        return Status.LOGGED_OUT, None
    return shown, agent.break_reason_id if shown == Status.BREAK else None


def _record_status(agent: Membership | int, now: datetime) -> AgentStatusInterval | None:
    """Record the agent's shown status from `now` if it changed. Returns the interval opened, or None.

    The caller holds the agent's lock (taken first in every transition, routing/engine/locks.py) and has
    saved the chats, call and presence its transition changed; this takes no further lock. `agent` may be
    the locked membership as the transition left it, or its id (then read again: the row is already
    locked by this transaction). Three to five statements: the call and the active chat the status is
    derived from, the open interval, and, on a change, its end and the new one.
    """
    if isinstance(agent, int):
        agent = Membership.objects.get(pk=agent)
    status, reason_id = _recorded_status(agent)
    current = AgentStatusInterval.objects.filter(agent_id=agent.pk, ended_at__isnull=True).first()
    if current is not None:
        if current.status == status and current.break_reason_id == reason_id:
            return None
        AgentStatusInterval.objects.filter(pk=current.pk).update(ended_at=max(now, current.started_at))
    elif status == Status.LOGGED_OUT:
        return None
    return AgentStatusInterval.objects.create(
        company_id=agent.company_id,
        agent_id=agent.pk,
        status=status,
        break_reason_id=reason_id,
        started_at=now,
    )
