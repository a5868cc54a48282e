"""Contacts and their interactions: one interaction per finished chat or call."""

from django.contrib.postgres.fields import ArrayField
from django.db import models


class Contact(models.Model):
    company = models.ForeignKey("contactcentre.Company", on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=120)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    organisation = models.CharField(max_length=120, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["company", "name"]), models.Index(fields=["company", "phone"])]

    def __str__(self) -> str:
        return self.name


class Channel(models.TextChoices):
    WEBCHAT = "webchat", "Webchat"
    VOICE = "voice", "Voice"


class Interaction(models.Model):
    company = models.ForeignKey(
        "contactcentre.Company", on_delete=models.CASCADE, related_name="interactions"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="interactions"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    chat = models.OneToOneField(
        "webchat.Chat", on_delete=models.SET_NULL, null=True, blank=True, related_name="interaction"
    )
    # Where the chat or call was when it closed (a chat may have been transferred): what the CRM shows.
    queue_name = models.CharField(max_length=100)
    webchat_queue = models.ForeignKey(
        "routing.WebchatQueue", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    voice_queue = models.ForeignKey(
        "routing.VoiceQueue", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Where it arrived: the queue reports count it in (docs/reports.md).
    arrival_webchat_queue = models.ForeignKey(
        "routing.WebchatQueue", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    arrival_voice_queue = models.ForeignKey(
        "routing.VoiceQueue", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    agent = models.ForeignKey(
        "contactcentre.Membership",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="interactions",
    )
    agent_name = models.CharField(max_length=80, blank=True)
    customer_name = models.CharField(max_length=120, blank=True)
    caller_number = models.CharField(max_length=40, blank=True)

    opened_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField()
    wait_seconds = models.FloatField(
        null=True, blank=True, help_text="Arrival to the first answer; blank if it was never answered."
    )
    handle_seconds = models.FloatField(default=0)
    wrapup_seconds = models.FloatField(default=0)
    transfers = models.PositiveSmallIntegerField(default=0)

    classification = models.ForeignKey(
        "webchat.Classification", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    classification_text = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    abusive = models.BooleanField(default=False)
    outcome = models.CharField(max_length=20)
    anonymised_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the transcript, notes and the customer's details were removed; the figures are kept.",
    )

    class Meta:
        ordering = ["-closed_at"]
        indexes = [
            models.Index(fields=["company", "contact", "-closed_at"]),
            # Reports: the interactions that arrived in a range, of the company or of one queue.
            models.Index(fields=["company", "opened_at"], name="interaction_company_opened"),
            models.Index(
                fields=["company", "arrival_webchat_queue", "opened_at"], name="interaction_chat_queue_opened"
            ),
            models.Index(
                fields=["company", "arrival_voice_queue", "opened_at"], name="interaction_voice_queue_opened"
            ),
            # The retention job's reads: only interactions still holding a transcript are in it.
            models.Index(
                fields=["company", "closed_at"],
                condition=models.Q(anonymised_at__isnull=True),
                name="interaction_not_anonymised",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.queue_name} {self.closed_at:%Y-%m-%d %H:%M}"

    @property
    def classification_display(self) -> str:
        if self.classification_id:
            return str(self.classification)
        return self.classification_text


# ---------------------------------------------------------------------------------------------------------
# The reports' rollup: the interactions' figures added up as they are written (docs/reports.md "Rollup").
#
# Queue, agent and classification ids are plain integers, not foreign keys: a row keeps the id an
# interaction was counted under when that queue, agent or classification is deleted (the interaction's own
# link is then cleared), and the reads treat an id that no longer names one exactly as the raw reads treat
# the cleared link. Rows are added to by `crm.services` in the transaction that writes the interaction
# (INSERT ... ON CONFLICT DO UPDATE on the unique key) and rebuilt from the interactions by
# `manage.py rebuild_report_rollup`.

# Waits and short-abandon stays are counted per whole second up to this many seconds: a queue whose
# service-level target or short-abandon threshold is longer is reported from the interactions themselves.
ROLLUP_MAX_SECONDS = 1800
# The wait distribution of the report page: [low, high) in seconds, the last one open.
WAIT_BANDS: tuple[tuple[int, int | None], ...] = (
    (0, 10),
    (10, 20),
    (20, 30),
    (30, 60),
    (60, 120),
    (120, 300),
    (300, None),
)


class RollupKey(models.Model):
    """What every rollup row is counted by: the company, the channel and the queue the interactions arrived
    in (ids, not foreign keys: a deleted queue's rows are read as the interactions whose link was cleared)."""

    company = models.ForeignKey("contactcentre.Company", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    arrival_webchat_queue_id = models.IntegerField(null=True)
    arrival_voice_queue_id = models.IntegerField(null=True)

    class Meta:
        abstract = True


class ReportQueueHour(RollupKey):
    """The interactions that arrived in one queue (and channel) in one UTC hour, added up.

    `answered_by_wait[j]` (j from 0) is how many answered interactions waited at most j seconds (a wait w
    is at most a whole number of seconds T exactly when ceil(w) ≤ T); the array stops at the longest wait
    (or at ROLLUP_MAX_SECONDS), past its end every answered one counts. `abandoned_by_stay[j]` likewise
    counts the abandoned ones whose customer left at most j seconds after arriving (`ended_at −
    opened_at`), out of `abandoned_ended` (those with an end). So the answered within any target and the
    short abandons for any threshold are read for the queue's settings of the moment. `wait_bands[i]`
    counts the answered waits in WAIT_BANDS[i]."""

    hour = models.DateTimeField()
    refused = models.IntegerField(default=0)
    offered = models.IntegerField(default=0)
    answered = models.IntegerField(default=0)
    abandoned = models.IntegerField(default=0)
    abandoned_ended = models.IntegerField(default=0)
    total_wait_seconds = models.FloatField(default=0)
    max_wait_seconds = models.FloatField(null=True)
    total_handle_seconds = models.FloatField(default=0)
    wrapped_up = models.IntegerField(default=0)
    total_wrapup_seconds = models.FloatField(default=0)
    transfers = models.IntegerField(default=0)
    answered_by_wait = ArrayField(models.IntegerField(), default=list)
    abandoned_by_stay = ArrayField(models.IntegerField(), default=list)
    wait_bands = ArrayField(models.IntegerField(), default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "channel", "arrival_webchat_queue_id", "arrival_voice_queue_id", "hour"],
                name="report_queue_hour_key",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["company", "hour"], name="report_queue_hour_range")]

    def __str__(self) -> str:
        queue = self.arrival_webchat_queue_id or self.arrival_voice_queue_id
        return f"{self.channel} queue {queue} {self.hour:%Y-%m-%d %H:00}"


class ReportClassificationDay(RollupKey):
    """How many interactions (refused chats left out) arrived in one queue (and channel) in one UTC day
    with one classification (id and the text kept with it)."""

    day = models.DateField()
    classification_id = models.IntegerField(null=True)
    classification_text = models.CharField(max_length=200, blank=True)
    interactions = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "company",
                    "channel",
                    "arrival_webchat_queue_id",
                    "arrival_voice_queue_id",
                    "day",
                    "classification_id",
                    "classification_text",
                ],
                name="report_classification_day_key",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["company", "day"], name="report_classification_range")]

    def __str__(self) -> str:
        return f"classification {self.classification_id or self.classification_text!r} {self.day}"


class ReportAgentDay(RollupKey):
    """The interactions one agent held last that arrived in one queue (and channel) in one UTC day."""

    day = models.DateField()
    agent_id = models.IntegerField()
    interactions = models.IntegerField(default=0)
    handled = models.IntegerField(default=0)
    total_handle_seconds = models.FloatField(default=0)
    wrapped_up = models.IntegerField(default=0)
    total_wrapup_seconds = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "company",
                    "channel",
                    "arrival_webchat_queue_id",
                    "arrival_voice_queue_id",
                    "day",
                    "agent_id",
                ],
                name="report_agent_day_key",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["company", "day"], name="report_agent_day_range")]

    def __str__(self) -> str:
        return f"agent {self.agent_id} {self.day}"
