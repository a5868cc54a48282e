"""What must hold after the faults, checked against the database (the truth) and every client's view.

Each function returns the violations it found, as sentences; an empty list means the promise held.
"""

import json
import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

from django.db.models import Count, Q

from faults.clients import Agent, Customer

RELEASED = "Your chat is waiting for the next available agent."


def transcript(chat_id: str) -> list[dict]:
    from webchat.models import Message

    return list(
        Message.objects.filter(chat_id=chat_id)
        .order_by("seq")
        .values("seq", "client_id", "sender", "text", "agent_id")
    )


def _shown(message: dict) -> tuple:
    return (message["seq"], message["client_id"], message["sender"], message["text"])


def conversations(customers: list[Customer], agents: list[Agent]) -> list[str]:
    """Every acknowledged message is stored exactly once, in the order it was written, and both sides
    show exactly the stored conversation."""
    from webchat.models import Chat

    problems: list[str] = []
    final: dict[str, list[dict]] = {}
    for customer in customers:
        rows = transcript(customer.chat_id)
        final[customer.chat_id] = rows
        seqs = [row["seq"] for row in rows]
        if seqs != list(range(1, len(rows) + 1)):
            problems.append(f"chat {customer.chat_id}: sequence numbers are not 1..n: {seqs}")
        if Chat.objects.get(pk=customer.chat_id).last_seq != len(rows):
            problems.append(f"chat {customer.chat_id}: last_seq does not match its {len(rows)} messages")
        texts = Counter(row["text"] for row in rows if row["sender"] != "system")
        problems += [
            f"chat {customer.chat_id}: {text!r} is stored {n} times" for text, n in texts.items() if n > 1
        ]
        by_client_id = {row["client_id"]: row for row in rows}
        previous = 0
        for message in customer.outbox:
            row = by_client_id.get(message["client_id"])
            acked = customer.acked.get(message["client_id"])
            if acked is None:
                problems.append(f"{customer.name}: {message['client_id']} was never acknowledged")
                continue
            if (
                row is None
                or row["seq"] != acked
                or row["text"] != message["text"]
                or row["sender"] != "customer"
            ):
                problems.append(
                    f"{customer.name}: acknowledged {message['client_id']} as {acked}, stored {row}"
                )
                continue
            if acked <= previous:
                problems.append(
                    f"{customer.name}: {message['client_id']} stored out of the order it was written"
                )
            previous = acked
        seen = [_shown(customer.received[seq]) for seq in sorted(customer.received)]
        if seen != [_shown(row) for row in rows]:
            missing = sorted({row["seq"] for row in rows} - set(customer.received))
            problems.append(f"{customer.name} does not see the stored conversation (missing seqs {missing})")
    for agent in agents:
        for client_id, (chat_id, seq) in agent.acked.items():
            rows = [row for row in final.get(chat_id) or transcript(chat_id) if row["client_id"] == client_id]
            if len(rows) != 1 or rows[0]["seq"] != seq or rows[0]["agent_id"] != agent.membership_id:
                problems.append(
                    f"agent {agent.membership_id}: acknowledged {client_id} as {seq}, stored {rows}"
                )
        for chat_id, view in agent.views.items():
            rows = final.get(chat_id) or transcript(chat_id)
            shown = [_shown(view[seq]) for seq in sorted(view)]
            if shown != [_shown(row) for row in rows[: len(shown)]]:
                problems.append(f"agent {agent.membership_id} shows chat {chat_id} other than it is stored")
    problems += _one_holder_at_a_time(final)
    problems += _every_customer_message_answered_once(final)
    return problems


def _one_holder_at_a_time(final: dict[str, list[dict]]) -> list[str]:
    """Between two agents' replies in a chat, the chat went back to a queue: it never had two holders."""
    problems = []
    for chat_id, rows in final.items():
        holder, released = None, False
        for row in rows:
            if row["sender"] == "system" and row["text"] == RELEASED or row["text"].startswith("Returned to"):
                released = True
            elif row["sender"] == "agent":
                if holder is not None and row["agent_id"] != holder and not released:
                    problems.append(
                        f"chat {chat_id}: agents {holder} and {row['agent_id']} both replied at once"
                    )
                holder, released = row["agent_id"], False
    return problems


def _every_customer_message_answered_once(final: dict[str, list[dict]]) -> list[str]:
    """Agents reply to a message only once it shows in their inbox: one reply each means every customer
    message reached an agent's screen, and none was answered twice."""
    problems = []
    for chat_id, rows in final.items():
        replies = Counter(row["client_id"] for row in rows if row["sender"] == "agent")
        for row in rows:
            answered = replies[f"reply-{row['client_id']}"]
            if row["sender"] == "customer" and answered != 1:
                problems.append(f"chat {chat_id}: {row['client_id']} was answered {answered} times")
    return problems


def nothing_stuck(chat_ids: list[str]) -> list[str]:
    """Every chat of the run ended up closed, logged once in the CRM, with no call left open."""
    from crm.models import Interaction
    from routing.models import Call, CallState
    from webchat.models import Chat, ChatState

    problems = []
    for state, n in Counter(Chat.objects.filter(pk__in=chat_ids).values_list("state", flat=True)).items():
        if state != ChatState.CLOSED:
            problems.append(f"{n} chat(s) still {state}")
    logged = Counter(Interaction.objects.filter(chat_id__in=chat_ids).values_list("chat_id", flat=True))
    closed = Chat.objects.filter(pk__in=chat_ids, state=ChatState.CLOSED).values_list("pk", flat=True)
    problems += [f"closed chat {pk} is logged {logged[pk]} times" for pk in closed if logged[pk] != 1]
    open_calls = Call.objects.exclude(state=CallState.CLOSED).count()
    if open_calls:
        problems.append(f"{open_calls} call(s) not closed")
    call_logs = Counter(Interaction.objects.filter(channel="voice").values_list("caller_number", "opened_at"))
    problems += [f"call {key} is logged {n} times" for key, n in call_logs.items() if n > 1]
    return problems


def capacity_breaches() -> list[str]:
    """Agents holding more chats than any of their queues allows (sampled while the run goes)."""
    from contactcentre.models import Membership
    from webchat.models import HELD_STATES

    problems = []
    rows = Membership.objects.annotate(
        held=Count("chats", filter=Q(chats__state__in=HELD_STATES))
    ).values_list("pk", "held", "company__default_max_chats_per_agent")
    for pk, held, default in rows:
        if held > default:
            problems.append(f"agent {pk} held {held} chats, over the most allowed ({default})")
    return problems


EXPECTED_ERRORS = re.compile(
    r"ConnectionError|Connection closed by server|Connection refused|Error while reading|"
    r"Connection reset|Cannot connect to redis|ConnectionResetError|BrokenPipe|"
    r"could not publish|consumer: Cannot connect|Timeout connecting|Error 111|Error 104|"
    r"Application instance .* took too long to shut down"
)


def unexpected_errors(log_paths: list[Path], *, since: float = 0.0) -> tuple[Counter, list[str]]:
    """ERROR lines in the processes' logs (from `since`, epoch seconds): a count of those a fault explains
    (Redis gone, a peer gone), and the others, which are violations."""
    expected: Counter = Counter()
    problems = []
    for path in log_paths:
        for line in path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("level") not in ("ERROR", "CRITICAL"):
                continue
            if datetime.fromisoformat(entry["time"]).timestamp() < since:
                continue
            text = entry.get("message", "") + entry.get("exception", "")
            if EXPECTED_ERRORS.search(text):
                expected[path.stem] += 1
            else:
                problems.append(f"{path.stem}: {entry.get('message')} {entry.get('exception', '')[-600:]}")
    return expected, problems


def transcript_counts(chat_ids: list[str]) -> dict[str, int]:
    from webchat.models import Message

    counts = defaultdict(int)
    for sender, n in (
        Message.objects.filter(chat_id__in=chat_ids).values_list("sender").annotate(n=Count("id")).order_by()
    ):
        counts[sender] = n
    return dict(counts)
