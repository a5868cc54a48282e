"""Rules for what customers and clients send, shared by the edges (API, sockets, inbox) and the engine.

The field readers below are the one check of each field, whichever way it comes in (a JSON body of the chat
API, a frame on either socket): they refuse with `runtime.refusals.Refused` and the status that says why.
"""

import re
import unicodedata

from django.conf import settings

from runtime.refusals import Refused
from webchat.models import Message

MAX_CLIENT_ID_CHARS = Message._meta.get_field("client_id").max_length
MAX_SEQ = 2**31 - 1

# PostgreSQL text cannot hold NUL, and lone surrogates (valid in JSON escapes) cannot be encoded as UTF-8.
# A form, a frame or a JSON body can carry either: such text is refused as invalid wherever it comes in,
# rather than failing in the database.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: str) -> bool:
    """Whether the database can store this text as it is."""
    return not UNSTORABLE.search(value)


# The product gives its own messages client ids in this namespace: system messages `system-<chat>-<seq>`,
# a first message sent without an id `open-<chat>`. A client may never claim one, so that the product's
# own messages can never clash with a client's (which would make every later system message of the chat
# fail the unique constraint). Compared without case: "SYSTEM-…" is refused as well.
RESERVED_CLIENT_ID_PREFIXES = ("system-", "open-")


def client_id_reserved(client_id: str) -> bool:
    """Whether this client id belongs to the product's own messages (and may not be sent by a client)."""
    return client_id.casefold().startswith(RESERVED_CLIENT_ID_PREFIXES)


RESERVED_CLIENT_ID_MESSAGE = (
    "client_id may not start with "
    + " or ".join(f'"{prefix}"' for prefix in RESERVED_CLIENT_ID_PREFIXES)
    + ": such ids are the server's own. Use a UUID."
)


def displayable_name(name: str) -> str:
    """A name without the characters that change how text around it is shown while showing nothing.

    Unicode's format characters (category Cf: the bidirectional overrides, embeddings and isolates, the
    zero-width spaces and joiners, word joiners, invisible operators, the byte-order mark ...) and control
    characters (Cc) let a name display as something it is not, e.g. reversed or with hidden parts.
    """
    return "".join(char for char in name if unicodedata.category(char) not in ("Cf", "Cc")).strip()


def optional_text(data: dict, field: str, *, limit: int) -> str:
    """A stripped optional string field; absent or null is empty."""
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str) or not storable(value):
        raise Refused("invalid", f"{field} must be text.", 400)
    value = value.strip()
    if len(value) > limit:
        raise Refused("invalid", f"{field} is limited to {limit} characters.", 400)
    return value


def message_text(data: dict, field: str, *, required: bool) -> str:
    """A message's text: storable, not blank when required, within WEBCHAT_MAX_MESSAGE_CHARS code points."""
    value = data.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not storable(value) or (required and not value.strip()):
        raise Refused("invalid", f"{field} must be some text.", 400)
    value = value.strip()
    if len(value) > settings.WEBCHAT_MAX_MESSAGE_CHARS:
        raise Refused(
            "too_long", f"Messages are limited to {settings.WEBCHAT_MAX_MESSAGE_CHARS} characters.", 413
        )
    return value


def client_id(data: dict, *, required: bool) -> str:
    """The client's id for a message: the one check of the API and both sockets."""
    value = optional_text(data, "client_id", limit=MAX_CLIENT_ID_CHARS)
    if required and not value:
        raise Refused("invalid", "client_id is required: a unique id chosen by the client.", 400)
    if client_id_reserved(value):
        raise Refused("invalid", RESERVED_CLIENT_ID_MESSAGE, 400)
    return value


def customer_name(data: dict, field: str = "name") -> str:
    """The customer's display name, without the invisible characters that could make it read otherwise."""
    return displayable_name(optional_text(data, field, limit=settings.WEBCHAT_MAX_NAME_CHARS))


def seq_number(value: object) -> int:
    """A message number a client resumes after: a whole number from 0."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQ:
        raise Refused("invalid", "after_seq must be a whole number, 0 or more.", 400)
    return value
