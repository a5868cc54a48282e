"""Small helpers for the inbox templates: icons, clocks the browser keeps ticking, the wait alert."""

from datetime import UTC, datetime
from functools import cache

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from routing import selectors
from webchat.models import Chat, ChatState

register = template.Library()

# Stroke icons drawn on a 24-unit grid; they inherit the text colour.
ICONS = {
    "bell": '<path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9"/><path d="M10.3 21a1.9 1.9 0 0 0 3.4 0"/>',
    "clock": '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>',
    "alarm": '<circle cx="12" cy="13" r="8"/><path d="M12 9v4l2 2M5 3 2 6M19 3l3 3"/>',
    "alert": '<path d="M12 3 2 21h20z"/><path d="M12 10v5M12 18h.01"/>',
    "play": '<path d="M7 4l13 8-13 8z"/>',
    "pause": '<path d="M8 5v14M16 5v14"/>',
    "undo": '<path d="M9 14 4 9l5-5"/><path d="M4 9h11a5 5 0 0 1 0 10h-3"/>',
    "forward": '<path d="M5 12h14M13 6l6 6-6 6"/>',
    "stop": '<rect x="5" y="5" width="14" height="14" rx="2"/>',
    "send": '<path d="M4 12 20 4l-6 16-3-7z"/>',
    "flag": '<path d="M5 21V4h11l-2 4 2 4H5"/>',
}

WAIT_LABELS = {"ok": "Waiting", "near": "Reply soon", "overdue": "Overdue"}
WAIT_ICONS = {"ok": "clock", "near": "alarm", "overdue": "alert"}
# The alert turns amber at this share of the queue's limit, so the agent sees it coming.
NEAR_SHARE = 0.75


@register.simple_tag
@cache
def icon(name: str) -> str:
    # The same few icons recur on every row of the inbox: each is built once per process.
    return format_html(
        '<svg class="icon icon--{}" viewBox="0 0 24 24" aria-hidden="true" focusable="false">{}</svg>',
        name,
        mark_safe(ICONS[name]),
    )


@register.filter
def iso(value: datetime | None) -> str:
    """A moment for the browser's clocks: ISO 8601 in UTC."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@register.filter
def clock(seconds: float | None) -> str:
    """Seconds as m:ss, or h:mm:ss past an hour."""
    seconds = max(0, int(seconds or 0))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02}:{seconds:02}"
    return f"{minutes}:{seconds:02}"


@register.simple_tag
def since(moment: datetime | None, *, now: datetime) -> str:
    """Time elapsed since `moment`, ticking in the browser."""
    if moment is None:
        return ""
    return format_html(
        '<time class="ticker" data-since="{}">{}</time>', iso(moment), clock((now - moment).total_seconds())
    )


@register.simple_tag
def until(moment: datetime | None, *, now: datetime) -> str:
    """Time left until `moment`, counting down in the browser."""
    if moment is None:
        return ""
    return format_html(
        '<time class="ticker" data-until="{}">{}</time>', iso(moment), clock((moment - now).total_seconds())
    )


def wait_level(chat: Chat, seconds: int) -> str:
    # Past the limit is the server's call (a periodic job flags it), so every screen turns red together.
    if chat.reply_overdue:
        return "overdue"
    if seconds >= chat.queue.reply_alert_seconds * NEAR_SHARE:
        return "near"
    return "ok"


@register.simple_tag
def wait_alert(chat: Chat, *, now: datetime) -> str:
    """The clock and elapsed time of a customer waiting for a reply; shape and words change with colour."""
    seconds = selectors.wait_seconds(chat, now)
    if seconds is None:
        return ""
    level = wait_level(chat, seconds)
    return format_html(
        '<span class="wait wait--{level}" data-since="{since}" data-limit="{limit}">'
        '{ok}{near}{overdue}<span class="wait__label">{label}</span> <time class="ticker">{elapsed}</time>'
        "</span>",
        level=level,
        since=iso(chat.customer_waiting_since),
        limit=chat.queue.reply_alert_seconds,
        ok=icon(WAIT_ICONS["ok"]),
        near=icon(WAIT_ICONS["near"]),
        overdue=icon(WAIT_ICONS["overdue"]),
        label=WAIT_LABELS[level],
        elapsed=clock(seconds),
    )


@register.filter
def state_label(chat: Chat) -> str:
    """The chat's state in the words of the inbox row."""
    if chat.state == ChatState.INBOX:
        return "New" if chat.unseen else "In inbox"
    if chat.state == ChatState.PARKED:
        return chat.get_park_reason_display() or "Parked"
    return chat.get_state_display()


@register.filter
def customer_left(chat: Chat) -> bool:
    """The customer left while the chat sat in the inbox or parked: activating it starts the wrap-up."""
    return chat.customer_ended and chat.state in (ChatState.INBOX, ChatState.PARKED)
