"""The one shape of a refusal, whoever refuses: a rule of the engine, or a check at the product's edge.

Every interface turns it into the same answer: `{"error": {"code", "message"}}` with `status` over HTTP, an
`error` frame on a socket, a message on a page. Nothing refused is ever a 500.
"""

from runtime import metrics


class Refused(Exception):
    """A request or transition refused by a rule: `code` for programs, `message` for people, `status` the
    HTTP status that says it."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        metrics.REFUSALS.labels(code).inc()
