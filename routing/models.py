"""Queues, queue profiles and break reasons: what routing reads to decide who gets what."""

import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


def new_queue_token() -> str:
    return secrets.token_urlsafe(24)


def parse_origins(text: str) -> list[str]:
    """Split the allowed origins field (one per line or comma-separated) into normalised origins."""
    return [item.strip().rstrip("/").lower() for item in text.replace(",", "\n").splitlines() if item.strip()]


def validate_origins(text: str) -> None:
    for origin in parse_origins(text):
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
            raise ValidationError(
                "%(origin)s is not a web-site origin: write scheme and host, e.g. https://www.example.com",
                params={"origin": origin},
            )


class ServiceLevelSettings(models.Model):
    """The KPI settings a queue's reports, wallboard and alerts read (docs/reports.md defines the figures).

    Chat and voice queues share them; only the service-level target's default differs."""

    sl_target_seconds = models.PositiveIntegerField(
        "Service-level target (seconds)",
        default=60,
        validators=[MinValueValidator(1)],
        help_text="A contact answered within this many seconds of arriving counts as within target.",
    )
    sl_target_pct = models.PositiveSmallIntegerField(
        "Service-level target (%)",
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="The share of contacts to answer within the target time.",
    )
    short_abandon_seconds = models.PositiveIntegerField(
        "Short abandon (seconds)",
        default=5,
        help_text="A customer who leaves within this many seconds of arriving is a short abandon, left out "
        "of the service level. 0: every abandon counts.",
    )
    kpi_window_minutes = models.PositiveSmallIntegerField(
        "Live figures window (minutes)",
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(1440)],
        help_text="The live service level and counts on the wallboard cover the last this many minutes.",
    )
    sl_warning_pct = models.PositiveSmallIntegerField(
        "Service-level warning (%)",
        default=70,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Below this live service level the queue is marked on the wallboard and the supervisors "
        "who ask for it are alerted. Must be below the target percentage.",
    )

    class Meta:
        abstract = True

    def service_level_errors(self) -> dict[str, str]:
        """What is wrong with the settings together (each field's own range is checked by its validators)."""
        if (
            self.sl_warning_pct is not None
            and self.sl_target_pct is not None
            and self.sl_warning_pct >= self.sl_target_pct
        ):
            return {"sl_warning_pct": "Set the warning below the target percentage."}
        return {}


SERVICE_LEVEL_FIELDS = [
    "sl_target_seconds",
    "sl_target_pct",
    "short_abandon_seconds",
    "kpi_window_minutes",
    "sl_warning_pct",
]


class WebchatQueue(ServiceLevelSettings):
    company = models.ForeignKey(
        "contactcentre.Company", on_delete=models.CASCADE, related_name="webchat_queues"
    )
    name = models.CharField(max_length=100)
    token = models.CharField(
        max_length=64,
        unique=True,
        default=new_queue_token,
        editable=False,
        help_text="Put in the web-site snippet; selects this queue.",
    )
    enabled = models.BooleanField(
        default=True,
        help_text="Off: the queue takes no new chats, and its waiting chats move to the fallback queue "
        "(or are ended with a message to the customer).",
    )
    fallback_queue = models.ForeignKey(
        "self",
        verbose_name="fallback queue",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Where this queue's waiting chats go when it is disabled. Blank: they are ended, and "
        "the customer is told the chat is closed.",
    )
    auto_allocate = models.BooleanField(
        default=True,
        help_text="Allocate waiting chats to eligible agents. Off: agents take them from the queue.",
    )
    allowed_origins = models.TextField(
        blank=True,
        validators=[validate_origins],
        help_text="Web sites allowed to embed the chat, one origin per line (https://www.example.com). "
        "Blank: any site.",
    )
    widget_title = models.CharField(max_length=60, default="Chat with us")
    widget_colour = models.CharField(
        max_length=7,
        default="#2563eb",
        help_text="The launcher's and header's colour, as #rrggbb.",
    )
    welcome_message = models.CharField(max_length=300, blank=True)

    # Advanced settings.
    max_queue_length = models.PositiveIntegerField(
        "Maximum Queue Length", default=50, validators=[MinValueValidator(1)]
    )
    wrapup_enabled = models.BooleanField("Enable Wrap-Up Time", default=True)
    wrapup_seconds = models.PositiveIntegerField(
        "Wrap-up Time (seconds)", default=60, validators=[MinValueValidator(1)]
    )
    wrapup_extension_seconds = models.PositiveIntegerField(
        "Wrap-up Extension Time (seconds)", default=60, validators=[MinValueValidator(1)]
    )
    wrapup_extensions = models.PositiveSmallIntegerField(
        "Wrap-up Extensions", default=3, help_text="How many times an agent may extend wrap-up. 0: never."
    )
    allow_wait_without_agents = models.BooleanField(
        "Allow chats to wait in queue when no agents are handling it", default=True
    )
    agents_view_queue_status = models.BooleanField("Allow agents to view queue status", default=True)
    max_chats_per_agent = models.PositiveSmallIntegerField(
        "Maximum Number Of Webchats Per Agent",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Blank: the company default.",
    )
    reply_alert_seconds = models.PositiveIntegerField(
        "Customer reply alert (seconds)",
        default=60,
        validators=[MinValueValidator(1)],
        help_text="How long a customer may wait for a reply before the alert icon changes colour.",
    )

    class Meta:
        ordering = ["company", "name"]
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="webchat_queue_name_unique")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if errors := self.service_level_errors():
            raise ValidationError(errors)
        if self.widget_colour and not (
            len(self.widget_colour) == 7
            and self.widget_colour.startswith("#")
            and all(c in "0123456789abcdefABCDEF" for c in self.widget_colour[1:])
        ):
            raise ValidationError({"widget_colour": "Write the colour as #rrggbb, e.g. #2563eb."})
        if self.fallback_queue_id is not None:
            if self.pk is not None and self.fallback_queue_id == self.pk:
                raise ValidationError({"fallback_queue": "A queue cannot be its own fallback queue."})
            if self.company_id is not None and self.fallback_queue.company_id != self.company_id:
                raise ValidationError({"fallback_queue": "Choose a queue of the same company."})

    @property
    def origins(self) -> list[str]:
        return parse_origins(self.allowed_origins)

    def chat_capacity(self) -> int:
        """The most chats an agent may hold when taking or being allocated one from this queue."""
        return self.max_chats_per_agent or self.company.default_max_chats_per_agent

    def allows_origin(self, origin: str | None) -> bool:
        """A request without an Origin (a handset app, a server) is never refused for that reason."""
        if not origin or not self.origins:
            return True
        return origin.rstrip("/").lower() in self.origins


class VoiceQueue(ServiceLevelSettings):
    company = models.ForeignKey(
        "contactcentre.Company", on_delete=models.CASCADE, related_name="voice_queues"
    )
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, help_text="The name the telephony system uses for this queue.")
    ring_timeout_seconds = models.PositiveIntegerField(
        default=20,
        validators=[MinValueValidator(1)],
        help_text="Ring-no-answer moves the call on after this.",
    )
    wrapup_seconds = models.PositiveIntegerField("call wrap-up (seconds)", default=30)
    sl_target_seconds = models.PositiveIntegerField(
        "Service-level target (seconds)",
        default=20,
        validators=[MinValueValidator(1)],
        help_text="A call answered within this many seconds of arriving counts as within target.",
    )

    class Meta:
        ordering = ["company", "name"]
        constraints = [models.UniqueConstraint(fields=["company", "slug"], name="voice_queue_slug_unique")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if errors := self.service_level_errors():
            raise ValidationError(errors)


class QueueProfile(models.Model):
    """A Webchat Queues profile: which of the company's webchat queues its users see and serve."""

    company = models.ForeignKey(
        "contactcentre.Company", on_delete=models.CASCADE, related_name="queue_profiles"
    )
    name = models.CharField(max_length=100)
    all_queues = models.BooleanField(
        default=False, help_text="Every webchat queue of the company, now and later."
    )
    queues = models.ManyToManyField(WebchatQueue, blank=True, related_name="profiles")

    class Meta:
        ordering = ["company", "name"]
        verbose_name = "Webchat Queues profile"
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="queue_profile_name_unique")]

    def __str__(self) -> str:
        return self.name


class BreakReason(models.Model):
    company = models.ForeignKey(
        "contactcentre.Company", on_delete=models.CASCADE, related_name="break_reasons"
    )
    name = models.CharField(max_length=60)
    interruptible = models.BooleanField(
        default=False, help_text="An agent on this break may still be offered calls."
    )

    class Meta:
        ordering = ["company", "name"]
        constraints = [models.UniqueConstraint(fields=["company", "name"], name="break_reason_name_unique")]

    def __str__(self) -> str:
        return self.name


class CallState(models.TextChoices):
    WAITING = "waiting", "Waiting"
    OFFERED = "offered", "Ringing"
    CONNECTED = "connected", "Connected"
    WRAPUP = "wrapup", "Wrap-up"
    CLOSED = "closed", "Closed"


# The states in which a call occupies its agent: no other call, no chat allocation.
CALL_BUSY_STATES = (CallState.OFFERED, CallState.CONNECTED, CallState.WRAPUP)


class Call(models.Model):
    """A voice call that the telephony system told us of; routed to agents by the engine."""

    company = models.ForeignKey("contactcentre.Company", on_delete=models.CASCADE, related_name="calls")
    queue = models.ForeignKey(VoiceQueue, on_delete=models.PROTECT, related_name="calls")
    pbx_call_id = models.CharField("telephony call id", max_length=100)
    caller_number = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=20, choices=CallState.choices, default=CallState.WAITING)
    outcome = models.CharField(max_length=20, blank=True)
    agent = models.ForeignKey(
        "contactcentre.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="calls"
    )
    missed_by = models.ManyToManyField(
        "contactcentre.Membership", blank=True, related_name="+", help_text="Agents who let it ring out."
    )
    interrupted_chat = models.ForeignKey(
        "webchat.Chat", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    contact = models.ForeignKey(
        "crm.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    arrived_at = models.DateTimeField()
    offered_at = models.DateTimeField(null=True, blank=True)
    offer_deadline = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    wrapup_deadline = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    classification = models.ForeignKey(
        "webchat.Classification", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-arrived_at"]
        constraints = [models.UniqueConstraint(fields=["company", "pbx_call_id"], name="call_pbx_id_unique")]
        indexes = [
            models.Index(fields=["company", "state", "arrived_at"], name="call_company_state"),
            models.Index(fields=["agent", "state"], name="call_agent_state"),
            # The wallboard's live figures (reports/live.py): a company's calls answered or ended lately.
            models.Index(fields=["company", "answered_at"], name="call_company_answered"),
            models.Index(fields=["company", "ended_at"], name="call_company_ended"),
        ]

    def __str__(self) -> str:
        return f"{self.caller_number or 'Unknown caller'} ({self.queue})"


class TelephonyEvent(models.Model):
    """Each telephony event once: a repeat is recognised and changes nothing."""

    company = models.ForeignKey("contactcentre.Company", on_delete=models.CASCADE, related_name="+")
    pbx_call_id = models.CharField(max_length=100)
    event = models.CharField(max_length=40)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "pbx_call_id", "event"], name="telephony_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.pbx_call_id}"


class AgentStatusInterval(models.Model):
    """One stretch of an agent's shown status (routing.selectors.agent_status), written by the engine in the
    transaction that changed it (routing/engine/status_history.py): the basis of occupancy and
    time-in-status reports. An agent has at most one open interval (ended_at null): their status now."""

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        BREAK = "break", "Break"
        HANDLING = "handling", "Handling a chat"
        CALL = "call", "On a call"
        WRAPUP = "wrapup", "Wrap-up"
        # Kept for an Unavailable chosen while logged in; today only logging out makes an agent
        # Unavailable, and that is recorded as logged_out.
        UNAVAILABLE = "unavailable", "Unavailable"
        LOGGED_OUT = "logged_out", "Logged out"

    company = models.ForeignKey("contactcentre.Company", on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(
        "contactcentre.Membership", on_delete=models.CASCADE, related_name="status_intervals"
    )
    status = models.CharField(max_length=20, choices=Status.choices)
    break_reason = models.ForeignKey(
        BreakReason, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Blank while it lasts.")

    class Meta:
        ordering = ["agent", "started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent"], condition=Q(ended_at__isnull=True), name="agent_status_one_open"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="agent_status_ends_after_start",
            ),
        ]
        indexes = [
            # A company's intervals in a range: those that started in it, and (overlaps) those that ended
            # after its start or are still open.
            models.Index(fields=["company", "started_at"], name="agent_status_company_start"),
            models.Index(fields=["company", "ended_at"], name="agent_status_company_end"),
            models.Index(fields=["agent", "ended_at"], name="agent_status_agent_end"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.status} {self.started_at:%Y-%m-%d %H:%M:%S}"


class ServiceLevelBreach(models.Model):
    """A queue's service-level alert state (reports/alerts.py): whether its live service level is below its
    warning threshold now, since when, and whether the supervisors were emailed for this breach. One row
    per queue, locked while the alert job decides, so two workers never both send."""

    company = models.ForeignKey("contactcentre.Company", on_delete=models.CASCADE, related_name="+")
    webchat_queue = models.OneToOneField(
        WebchatQueue, on_delete=models.CASCADE, null=True, blank=True, related_name="sl_breach"
    )
    voice_queue = models.OneToOneField(
        VoiceQueue, on_delete=models.CASCADE, null=True, blank=True, related_name="sl_breach"
    )
    started_at = models.DateTimeField(
        null=True, blank=True, help_text="When the breach began; blank: none now."
    )
    notified_at = models.DateTimeField(null=True, blank=True, help_text="When this breach was emailed.")
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When the last breach ended.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(webchat_queue__isnull=True) ^ Q(voice_queue__isnull=True),
                name="sl_breach_one_queue",
            )
        ]

    def __str__(self) -> str:
        return f"{self.webchat_queue or self.voice_queue}: {'breach' if self.started_at else 'ok'}"
