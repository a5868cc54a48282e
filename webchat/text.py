"""Rules for what customers and clients send, shared by the edges (API, sockets, inbox) and the engine."""

import re
import unicodedata

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
