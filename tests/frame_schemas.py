"""Frames checked against the schemas of webchat.protocol, as a developer's tools would check them."""

from functools import cache

from jsonschema import Draft202012Validator, FormatChecker

from webchat import protocol


@cache
def validator(key: tuple[str, str, str]) -> Draft202012Validator:
    return Draft202012Validator(protocol.schema_document(key), format_checker=FormatChecker())


def frame_problem(socket: str, direction: str, frame: object) -> str | None:
    """What is wrong with a frame by the published schemas, or None when it is right."""
    if not isinstance(frame, dict):
        return f"not a JSON object: {frame!r}"
    key = (socket, direction, frame.get("type"))
    if key not in protocol.SCHEMAS:
        return f"{socket} socket {direction}: no frame type {frame.get('type')!r}: {frame!r}"
    errors = sorted(validator(key).iter_errors(frame), key=lambda error: list(error.path))
    if errors:
        return f"{socket} socket {direction} {frame['type']}: {errors[0].message}: {frame!r}"
    return None
