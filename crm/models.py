"""Contacts and their interactions: one interaction per finished chat or call."""

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
