"""The realtime protocol: every WebSocket frame the product sends or accepts is built or read here.

Two sockets speak it. The customer's chat socket (`/ws/webchat/<chat>/`, docs/chat-api.md) is public: the
widget and companies' handset apps depend on its frames. The agent's socket (`/ws/agent/`) is the inbox
page's: its frames only name what changed, and the page re-fetches the server-rendered part.

Each frame has a JSON Schema in `SCHEMAS`, keyed by (socket, direction, type) and published in docs/frames/
(`python manage.py frame_schemas --write`; a test keeps the files equal to this module). Outbound frames are
made by the builders below, whoever sends them (the engine's outbox, the consumers, the queue-place
updates), and the chat API's bodies are made by the same functions (`message_fields`, `state_fields`), so
a message reads the same on the socket and over REST. Inbound frames are read by the `read_*` functions,
which check each field with webchat.text's rules and refuse with `Refused` (an `error` frame, the socket
stays open). Tests check every frame a socket sends against its schema.
"""

import copy
import json
from dataclasses import dataclass
from datetime import UTC

from routing.models import CallState
from runtime.refusals import Refused
from webchat import text
from webchat.models import ChatState, Message, Sender

CUSTOMER = "customer"
AGENT = "agent"
TO_SERVER = "to-server"
TO_CLIENT = "to-client"

# The channel-layer event that carries a frame to a consumer, which sends it on unchanged.
RELAY = "relay"


def relay(frame: dict) -> dict:
    """A frame as the channel-layer event every consumer relays to its socket."""
    return {"type": RELAY, "frame": frame}


def encode(socket: str, frame: dict) -> str:
    """A frame as the text sent on a socket (CUSTOMER or AGENT): the one place every outbound frame passes,
    where the tests check each against its schema."""
    return json.dumps(frame)


# --- Outbound: the message and the state, as frames and as the chat API's bodies ----------------------------


def message_fields(message: Message) -> dict:
    """A stored message as the chat API's `<message>` (also the `message` frame without its type)."""
    fields = {
        "seq": message.seq,
        "client_id": message.client_id,
        "sender": message.sender,
        "text": message.text,
        "sent_at": message.sent_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    if message.agent_name:
        fields["agent_name"] = message.agent_name
    return fields


def message(message: Message) -> dict:
    """The `message` frame to the chat's customer."""
    return {"type": "message", **message_fields(message)}


def agent_message(frame: dict, chat_id) -> dict:
    """A customer's `message` frame as the holding agent's tabs hear it: with the chat it belongs to."""
    return {**frame, "chat_id": str(chat_id)}


@dataclass(frozen=True)
class CustomerState:
    """The chat's state as its customer sees it: queued (with a place), connected (with the agent's name,
    and whether that agent has opened the chat yet), or ended."""

    state: str
    position: int | None = None
    agent_name: str | None = None
    # Connected only: False while the agent holding the chat has not opened it yet.
    agent_joined: bool = True


def state_fields(state: CustomerState) -> dict:
    """The state as the chat API returns it (the `state` frame without its type)."""
    fields: dict = {"state": state.state}
    if state.state == "queued" and state.position is not None:
        fields["position"] = state.position
    elif state.state == "connected":
        fields["agent_name"] = state.agent_name or ""
        if not state.agent_joined:
            # Only while the agent has not opened the chat: a client that does not know the field reads
            # the frame as before.
            fields["agent_joined"] = False
    return fields


def state(state: CustomerState) -> dict:
    """The `state` frame to the chat's customer."""
    return {"type": "state", **state_fields(state)}


def queued(position: int) -> dict:
    """The `state` frame that tells a waiting customer their place."""
    return state(CustomerState("queued", position=position))


def ack(client_id: str, seq: int, *, chat_id: str | None = None) -> dict:
    """The answer to a stored `message` frame (the agent's carries the chat)."""
    if chat_id is None:
        return {"type": "ack", "client_id": client_id, "seq": seq}
    return {"type": "ack", "chat_id": chat_id, "client_id": client_id, "seq": seq}


def typing_to_customer(typing: bool) -> dict:
    return {"type": "typing", "sender": "agent", "typing": typing}


def typing_to_agent(chat_id: str, typing: bool) -> dict:
    return {"type": "typing", "chat_id": chat_id, "sender": "customer", "typing": typing}


def error(code: str, message: str, *, chat_id: str | None = None, client_id: str | None = None) -> dict:
    """A refused frame's answer; the socket stays open. A refused message's carries its client_id (and the
    agent's its chat_id), so that the client can mark that message as failed."""
    frame: dict = {"type": "error", "code": code, "message": message}
    if isinstance(chat_id, str):
        frame["chat_id"] = chat_id
    if isinstance(client_id, str):
        frame["client_id"] = client_id[: text.MAX_CLIENT_ID_CHARS]
    return frame


# --- Outbound to agents' tabs: what changed, for the page to re-fetch ---------------------------------------


def inbox() -> dict:
    """The agent's inbox list changed."""
    return {"type": "inbox"}


def chat(chat_id, chat_state: str) -> dict:
    """One of the agent's chats changed state (its row and, if open, its workspace)."""
    return {"type": "chat", "chat_id": str(chat_id), "state": chat_state}


def bell(chat_id) -> dict:
    """A chat was allocated to the agent: ring."""
    return {"type": "bell", "chat_id": str(chat_id)}


def alert(chat_id) -> dict:
    """A customer of the agent's has waited too long for a reply."""
    return {"type": "alert", "chat_id": str(chat_id)}


def presence() -> dict:
    """The agent's status changed."""
    return {"type": "presence"}


def call(call_id: int, call_state: str) -> dict:
    """A call offered to or held by the agent changed state."""
    return {"type": "call", "call_id": call_id, "state": call_state}


def queue(queue_id: int) -> dict:
    """A queue's counters changed (to the agents who see the queue)."""
    return {"type": "queue", "queue_id": queue_id}


def wallboard() -> dict:
    """Something on the company's wallboard changed (to its supervisors)."""
    return {"type": "wallboard"}


def queues() -> dict:
    """The queues the agent sees changed: re-fetch every part."""
    return {"type": "queues"}


# --- Inbound ------------------------------------------------------------------------------------------------


def read(text_data: str | None) -> dict:
    """A received frame: a JSON object with a string `type`."""
    try:
        frame = json.loads(text_data or "")
    except (ValueError, RecursionError):
        frame = None
    if not isinstance(frame, dict):
        raise Refused("invalid", "Frames are JSON objects.", 400)
    return frame


@dataclass(frozen=True)
class Hello:
    customer_token: object
    after_seq: int


def read_hello(frame: dict) -> Hello:
    """The customer socket's first frame. The token itself is checked by the caller (webchat.customer)."""
    if frame.get("type") != "hello":
        raise Refused("invalid", "Say hello first, with the customer token.", 400)
    return Hello(
        customer_token=frame.get("customer_token"), after_seq=text.seq_number(frame.get("after_seq", 0))
    )


@dataclass(frozen=True)
class Outgoing:
    """A message someone sends: the client's id for it and its text."""

    client_id: str
    text: str
    chat_id: str | None = None


def read_customer_message(frame: dict) -> Outgoing:
    return Outgoing(
        client_id=text.client_id(frame, required=True),
        text=text.message_text(frame, "text", required=True),
    )


def read_agent_message(frame: dict) -> Outgoing:
    chat_id = frame.get("chat_id")
    if not isinstance(chat_id, str):
        raise Refused("invalid", "A message needs chat_id, client_id and text.", 400)
    return Outgoing(
        client_id=text.client_id(frame, required=True),
        text=text.message_text(frame, "text", required=True),
        chat_id=chat_id,
    )


def read_typing(frame: dict) -> bool:
    typing = frame.get("typing")
    if not isinstance(typing, bool):
        raise Refused("invalid", "A typing frame needs typing true or false.", 400)
    return typing


def read_agent_typing(frame: dict) -> tuple[str, bool]:
    chat_id, typing = frame.get("chat_id"), frame.get("typing")
    if not isinstance(chat_id, str) or not isinstance(typing, bool):
        raise Refused("invalid", "A typing frame needs chat_id and typing true or false.", 400)
    return chat_id, typing


# --- The schemas --------------------------------------------------------------------------------------------

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _caseless_prefixes(prefixes: tuple[str, ...]) -> str:
    """A regular expression (ECMA-262, as JSON Schema reads them) for text starting with any of the prefixes,
    in any case."""

    def caseless(char: str) -> str:
        return f"[{char.lower()}{char.upper()}]" if char.isalpha() else char

    return "^(" + "|".join("".join(caseless(char) for char in prefix) for prefix in prefixes) + ")"


_UUID = {"type": "string", "format": "uuid"}
_CHAT_ID = {**_UUID, "description": "The chat's id."}
_CLIENT_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": Message._meta.get_field("client_id").max_length,
    "not": {"pattern": _caseless_prefixes(text.RESERVED_CLIENT_ID_PREFIXES)},
    "description": "An id the client chose for the message (a UUID); ids starting system- or open- are the "
    "server's own.",
}
_SEQ = {"type": "integer", "minimum": 1, "description": "The message's number in its chat, from 1."}
_TEXT_IN = {
    "type": "string",
    "pattern": "\\S",
    "description": "The message, at most WEBCHAT_MAX_MESSAGE_CHARS code points once stripped (4000 by "
    "default), with no NUL and no lone surrogate.",
}
_TYPING = {"type": "boolean"}
_ERROR_CODE = {"type": "string", "pattern": "^[a-z_]+$"}


def _frame(type_: str, description: str, required: dict | None = None, optional: dict | None = None) -> dict:
    properties = {"type": {"const": type_}, **(required or {}), **(optional or {})}
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": ["type", *(required or {})],
        "additionalProperties": False,
    }


_MESSAGE_REQUIRED = {
    "seq": _SEQ,
    "client_id": {"type": "string", "minLength": 1},
    "sender": {"enum": [choice.value for choice in Sender]},
    "text": {"type": "string"},
    "sent_at": {"type": "string", "format": "date-time", "pattern": "Z$", "description": "ISO 8601, UTC."},
}
_MESSAGE_OPTIONAL = {
    "agent_name": {"type": "string", "description": "The agent's name, on agents' messages."}
}

_STATE = {
    "type": "object",
    "description": "The chat's state as the customer sees it: connected while any agent holds the chat, "
    "ended once either side ended it.",
    "properties": {
        "type": {"const": "state"},
        "state": {"enum": ["queued", "connected", "ended"]},
        "position": {"type": "integer", "minimum": 1, "description": "The place in the queue, when queued."},
        "agent_name": {"type": "string", "description": "The agent's name, when connected."},
        "agent_joined": {
            "const": False,
            "description": "Present, when connected, while the agent holding the chat has not opened it "
            "yet (it waits in their inbox): the customer is told the agent will be with them shortly. Absent "
            "once the agent has opened it.",
        },
    },
    "required": ["type", "state"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"state": {"const": "queued"}}},
            "then": {"required": ["position"], "properties": {"agent_name": False, "agent_joined": False}},
        },
        {
            "if": {"properties": {"state": {"const": "connected"}}},
            "then": {"required": ["agent_name"], "properties": {"position": False}},
        },
        {
            "if": {"properties": {"state": {"const": "ended"}}},
            "then": {"properties": {"position": False, "agent_name": False, "agent_joined": False}},
        },
    ],
}

_CHAT_STATES = [choice.value for choice in ChatState]

SCHEMAS: dict[tuple[str, str, str], dict] = {
    # The customer's chat socket: client to server.
    (CUSTOMER, TO_SERVER, "hello"): _frame(
        "hello",
        "The first frame: the customer token, and the last message number the client has (0 for none).",
        {"customer_token": {"type": "string", "minLength": 1}},
        {"after_seq": {"type": "integer", "minimum": 0, "maximum": text.MAX_SEQ, "default": 0}},
    ),
    (CUSTOMER, TO_SERVER, "message"): _frame(
        "message",
        "Store and send a message; answered with `ack` (the same client_id again: the same seq).",
        {"client_id": _CLIENT_ID, "text": _TEXT_IN},
    ),
    (CUSTOMER, TO_SERVER, "typing"): _frame(
        "typing", "The customer is typing (false: stopped). Never stored.", {"typing": _TYPING}
    ),
    (CUSTOMER, TO_SERVER, "end"): _frame("end", "The customer ends the chat."),
    # The customer's chat socket: server to client.
    (CUSTOMER, TO_CLIENT, "message"): _frame(
        "message",
        "A message of the chat, from anyone, the customer's own included.",
        _MESSAGE_REQUIRED,
        _MESSAGE_OPTIONAL,
    ),
    (CUSTOMER, TO_CLIENT, "ack"): _frame(
        "ack", "The client's message is stored as number seq.", {"client_id": {"type": "string"}, "seq": _SEQ}
    ),
    (CUSTOMER, TO_CLIENT, "typing"): _frame(
        "typing", "The agent is typing (false: stopped).", {"sender": {"const": "agent"}, "typing": _TYPING}
    ),
    (CUSTOMER, TO_CLIENT, "state"): _STATE,
    (CUSTOMER, TO_CLIENT, "error"): _frame(
        "error",
        "A frame was refused; the socket stays open. A refused message's error carries its client_id.",
        {"code": _ERROR_CODE, "message": {"type": "string"}},
        {"client_id": {"type": "string"}},
    ),
    # The agent's socket: client to server.
    (AGENT, TO_SERVER, "heartbeat"): _frame("heartbeat", "A sign of life from the agent's tab."),
    (AGENT, TO_SERVER, "message"): _frame(
        "message",
        "The agent's reply in a chat they hold; answered with `ack`.",
        {"chat_id": _CHAT_ID, "client_id": _CLIENT_ID, "text": _TEXT_IN},
    ),
    (AGENT, TO_SERVER, "typing"): _frame(
        "typing", "The agent is typing in a chat (false: stopped).", {"chat_id": _CHAT_ID, "typing": _TYPING}
    ),
    # The agent's socket: server to client.
    (AGENT, TO_CLIENT, "inbox"): _frame("inbox", "The agent's inbox list changed: re-fetch it."),
    (AGENT, TO_CLIENT, "chat"): _frame(
        "chat",
        "One of the agent's chats changed: re-fetch its row and, if open, its workspace.",
        {"chat_id": _CHAT_ID, "state": {"enum": _CHAT_STATES}},
    ),
    (AGENT, TO_CLIENT, "bell"): _frame("bell", "A chat was allocated to the agent.", {"chat_id": _CHAT_ID}),
    (AGENT, TO_CLIENT, "alert"): _frame(
        "alert", "A customer of the agent's has waited too long for a reply.", {"chat_id": _CHAT_ID}
    ),
    (AGENT, TO_CLIENT, "presence"): _frame("presence", "The agent's status changed: re-fetch it."),
    (AGENT, TO_CLIENT, "call"): _frame(
        "call",
        "A call offered to or held by the agent changed state.",
        {"call_id": {"type": "integer"}, "state": {"enum": [choice.value for choice in CallState]}},
    ),
    (AGENT, TO_CLIENT, "queue"): _frame(
        "queue", "A queue's counters changed.", {"queue_id": {"type": "integer"}}
    ),
    (AGENT, TO_CLIENT, "wallboard"): _frame("wallboard", "Something on the wallboard changed (supervisors)."),
    (AGENT, TO_CLIENT, "queues"): _frame("queues", "The queues the agent sees changed: re-fetch every part."),
    (AGENT, TO_CLIENT, "message"): _frame(
        "message",
        "A message in one of the agent's chats: append what is new after the last one shown.",
        {**_MESSAGE_REQUIRED, "chat_id": _CHAT_ID},
        _MESSAGE_OPTIONAL,
    ),
    (AGENT, TO_CLIENT, "typing"): _frame(
        "typing",
        "The customer of one of the agent's chats is typing (false: stopped).",
        {"chat_id": _CHAT_ID, "sender": {"const": "customer"}, "typing": _TYPING},
    ),
    (AGENT, TO_CLIENT, "ack"): _frame(
        "ack",
        "The agent's message is stored as number seq.",
        {"chat_id": _CHAT_ID, "client_id": {"type": "string"}, "seq": _SEQ},
    ),
    (AGENT, TO_CLIENT, "error"): _frame(
        "error",
        "A frame was refused; the socket stays open. "
        "A refused message's error carries its chat and client ids.",
        {"code": _ERROR_CODE, "message": {"type": "string"}},
        {"chat_id": {"type": "string"}, "client_id": {"type": "string"}},
    ),
}


def schema_document(key: tuple[str, str, str]) -> dict:
    """One frame's schema as the file published in docs/frames/."""
    socket, direction, type_ = key
    return {
        "$schema": _DIALECT,
        "title": f"{socket} socket, {direction.replace('-', ' ')}: {type_}",
        **SCHEMAS[key],
    }


def body_schema(key: tuple[str, str, str]) -> dict:
    """A frame's schema without its `type`: the same object as the chat API's body (a `message` frame is a
    `<message>`, a `state` frame the state part of `GET …/messages`), for the OpenAPI document."""
    schema = copy.deepcopy(SCHEMAS[key])
    del schema["properties"]["type"]
    schema["required"] = [name for name in schema["required"] if name != "type"]
    return schema


def schema_path(key: tuple[str, str, str]) -> str:
    """Where a frame's schema is published, under docs/frames/."""
    socket, direction, type_ = key
    return f"{socket}/{direction}/{type_}.schema.json"


def frame_schema(socket: str, direction: str, frame: dict) -> dict | None:
    """The schema of a frame by its type, or None for a type the socket does not have."""
    return SCHEMAS.get((socket, direction, frame.get("type")))
