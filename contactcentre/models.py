"""The tenant (Company) and each user's membership of it: role, capabilities, profile, presence."""

import secrets

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from runtime.outbound import validate_outbound_url


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
    transcript_retention_days = models.PositiveIntegerField(
        "keep transcripts for (days)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(36500)],
        help_text="After this many days a closed chat's or call's transcript, notes and the customer's name "
        "and number are anonymised; the figures (times, queue, agent, outcome, classification) are kept. "
        "Blank: keep them.",
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
    kpi_alert_emails = models.BooleanField(
        "service-level alert emails",
        default=False,
        help_text="Supervisors and administrators: email me when a queue's live service level falls below "
        "its warning threshold (once per breach). Sent to the login's email address.",
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


class AuditEntryManager(LogEntryManager):
    """django-auditlog's manager, which also says which company each entry of a changed object belongs to."""

    def log_create(self, instance, force_log: bool = False, **kwargs):
        kwargs.setdefault("company_id", company_id_of(instance))
        return super().log_create(instance, force_log=force_log, **kwargs)

    def log_m2m_changes(self, changed_queryset, instance, operation, field_name, **kwargs):
        kwargs.setdefault("company_id", company_id_of(instance))
        return super().log_m2m_changes(changed_queryset, instance, operation, field_name, **kwargs)


def company_id_of(instance: models.Model) -> int | None:
    if isinstance(instance, Company):
        return instance.pk
    return getattr(instance, "company_id", None)


class AuditEntry(AbstractLogEntry):
    """One entry of the audit log: when, who, which company, what was done to which object, what changed,
    from which address. Written by django-auditlog for administrative changes and by contactcentre.audit
    for sign-ins and data-protection actions; never changed afterwards."""

    class Action(AbstractLogEntry.Action):
        LOGIN = 10
        LOGIN_FAILED = 11
        LOGOUT = 12
        CONTACT_EXPORTED = 20
        CONTACT_ERASED = 21
        TRANSCRIPTS_EXPIRED = 22

        choices = (
            (AbstractLogEntry.Action.CREATE, "created"),
            (AbstractLogEntry.Action.UPDATE, "changed"),
            (AbstractLogEntry.Action.DELETE, "deleted"),
            (AbstractLogEntry.Action.ACCESS, "viewed"),
            (LOGIN, "logged in"),
            (LOGIN_FAILED, "login failed"),
            (LOGOUT, "logged out"),
            (CONTACT_EXPORTED, "contact's data exported"),
            (CONTACT_ERASED, "contact erased"),
            (TRANSCRIPTS_EXPIRED, "transcripts anonymised (retention)"),
        )

    action = models.PositiveSmallIntegerField(choices=Action.choices, db_index=True)
    # No database constraint: the log outlives a deleted company (only superusers then see its entries).
    company = models.ForeignKey(
        Company,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    username = models.CharField(
        max_length=150, blank=True, help_text="The login concerned, as typed for a failed login."
    )

    objects = AuditEntryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["company", "-timestamp"], name="audit_company_time")]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.object_repr}"
