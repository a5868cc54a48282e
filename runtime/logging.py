"""Structured logs: one JSON object a line, for log collectors to index.

Each line has `time` (ISO 8601, UTC), `level`, `logger` and `message`, then whatever the record carries
as `extra`: the engine and the sockets pass the ids of what they acted on (`chat_id`, `agent_id`,
`call_id`, `queue_id`, `company_id`), so that one chat's or one agent's story can be followed across
processes. An exception comes as `exception`, its traceback as text.
"""

import json
import logging
from datetime import UTC, datetime

# The attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = _plain(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _plain(value: object) -> object:
    """What JSON can carry as it is; anything else (a request, a socket) as its short description."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    request_path = getattr(value, "path", None)
    if isinstance(request_path, str) and hasattr(value, "method"):
        return {"method": value.method, "path": request_path}
    return str(value)
