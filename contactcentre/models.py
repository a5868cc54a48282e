"""The tenant (Company) and each user's membership of it: role, capabilities, profile, presence."""

import secrets

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from contactcentre.outbound import validate_outbound_url


def new_telephony_secret() -> str:
    return secrets.token_urlsafe(32)


class ChannelPriority(models.TextChoices):
    VOICE_FIRST = "voice,webchat", "Voice calls before webchat"
    WEBCHAT_FIRST = "webchat,voice", "Webchat before voice calls"


class Company(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    default_max_chats_per_agent = models.PositiveSmallIntegerField(
        "default Maximum Number Of Webchats Per Agent",
        default=3,
        validators=[MinValueValidator(1)],
        help_text="Used by every webchat queue that does not set its own maximum.",
    )
    telephony_secret = models.CharField(
        max_length=128,
        default=new_telephony_secret,
        help_text="Shared secret that signs telephony events (HMAC-SHA256) in both directions.",
    )
    telephony_url = models.URLField(
        blank=True,
        validators=[validate_outbound_url],
        help_text="Where call offers are sent: an https address of a public host. "
        "Blank: offers are shown in the agent UI only.",
    )
    channel_priority = models.CharField(
        max_length=20, choices=ChannelPriority.choices, default=ChannelPriority.VOICE_FIRST
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    AGENT = "agent", "Agent"
    SUPERVISOR = "supervisor", "Supervisor"
    ADMINISTRATOR = "administrator", "Administrator"


class Presence(models.TextChoices):
    """What the agent chose (or what was chosen for them); the status shown adds their work."""

    AVAILABLE = "available", "Available"
    BREAK = "break", "Break"
    UNAVAILABLE = "unavailable", "Unavailable"


class Membership(models.Model):
    """A user's place in one company. Every agent, supervisor and administrator has exactly one."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="members")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AGENT)
    display_name = models.CharField(
        max_length=80, blank=True, help_text="Shown to customers. Blank: the user's first name."
    )
    extension = models.CharField(max_length=30, blank=True, help_text="Phone extension rung for calls.")
    can_webchat = models.BooleanField("webchat", default=True)
    can_voice = models.BooleanField("voice", default=False)
    queue_profile = models.ForeignKey(
        "routing.QueueProfile",
        verbose_name="Webchat Queues profile",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        help_text="The webchat queues this user sees and serves. None: no webchat queues.",
    )
    voice_queues = models.ManyToManyField(
        "routing.VoiceQueue", blank=True, related_name="agents", help_text="Voice queues this agent answers."
    )

    # Presence: written by the engine only.
    presence = models.CharField(max_length=20, choices=Presence.choices, default=Presence.UNAVAILABLE)
    break_reason = models.ForeignKey(
        "routing.BreakReason", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    presence_since = models.DateTimeField(null=True, blank=True)
    last_allocated_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life from any of the agent's connections."
    )

    class Meta:
        ordering = ["company", "user__username"]
        indexes = [models.Index(fields=["company", "presence"])]
        verbose_name = "agent"
        verbose_name_plural = "agents"

    def __str__(self) -> str:
        return f"{self.name} ({self.company})"

    @property
    def name(self) -> str:
        return self.display_name or self.user.first_name or self.user.username

    @property
    def is_administrator(self) -> bool:
        return self.role == Role.ADMINISTRATOR

    @property
    def is_supervisor(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMINISTRATOR)
