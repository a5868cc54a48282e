"""The customer's chat token: proof, signed by the server, that its holder opened this chat.

The queue token on a web site only opens chats; reading or writing one needs the token given when it was
opened. It is stateless (Django's signing with SECRET_KEY), so nothing is stored and any server process
can check it.
"""

from django.core import signing

SALT = "webchat.customer"


def customer_token_for(*, chat_id) -> str:
    return signing.dumps(str(chat_id), salt=SALT)


def customer_token_valid(*, token: object, chat_id) -> bool:
    """Whether `token` was issued for this chat (another chat's token is not)."""
    if not isinstance(token, str) or not token:
        return False
    try:
        return signing.loads(token, salt=SALT) == str(chat_id)
    except signing.BadSignature:
        return False
