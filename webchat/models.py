"""A chat's content and its edges: the chat, its messages, response templates and classifications."""

import uuid

from django.db import models


class ChatState(models.TextChoices):
    QUEUED = "queued", "Queued"
    INBOX = "inbox", "In inbox"
    ACTIVE = "active", "Active"
    PARKED = "parked", "Parked"
    WRAPUP = "wrapup", "Wrap-up"
    WRAPUP_PARKED = "wrapup_parked", "Wrap-up (parked)"
    CLOSED = "closed", "Closed"


# The states in which a chat counts against its agent's capacity.
HELD_STATES = (
    ChatState.INBOX,
    ChatState.ACTIVE,
    ChatState.PARKED,
    ChatState.WRAPUP,
    ChatState.WRAPUP_PARKED,
)


class Outcome(models.TextChoices):
    """How a chat ended (docs/reports.md lists them with the calls' outcomes)."""

    # Answered (taken or allocated) and closed by the agent, the wrap-up's end or a logout.
    COMPLETED = "completed", "Completed"
    # The customer left while waiting, never answered.
    ABANDONED = "abandoned", "Abandoned"
    # The customer left while waiting again after an agent had answered and put back or transferred it.
    LEFT_AFTER_ANSWER = "left_after_answer", "Left after an answer"
    # Refused at opening (queue full, or nobody serving it): never waited.
    REFUSED = "refused", "Refused"
    # Ended by the product because its queue was disabled with no fallback queue.
    QUEUE_CLOSED = "queue_closed", "Queue closed"


class ParkReason(models.TextChoices):
    MANUAL = "manual", "Parked"
    INTERRUPTED = "interrupted", "Interrupted by a call"


class EndedBy(models.TextChoices):
    AGENT = "agent", "Agent"
    CUSTOMER = "customer", "Customer"
    SYSTEM = "system", "System"


class Classification(models.Model):
    company = models.ForeignKey(
        "contactcentre.Company", on_delete=models.CASCADE, related_name="classifications"
    )
    code = models.CharField(max_length=30)
    label = models.CharField(max_length=120)
    queues = models.ManyToManyField(
        "routing.WebchatQueue",
        blank=True,
        related_name="classifications",
        help_text="Queues that offer this classification. None: every queue.",
    )

    class Meta:
        ordering = ["company", "code"]
        constraints = [models.UniqueConstraint(fields=["company", "code"], name="classification_code_unique")]

    def __str__(self) -> str:
        return f"{self.code} – {self.label}"


class ResponseTemplate(models.Model):
    company = models.ForeignKey("contactcentre.Company", on_delete=models.CASCADE, related_name="templates")
    title = models.CharField(max_length=100)
    text = models.TextField(
        help_text="Placeholders: {customer_name}, {agent_name}, {queue_name}, {company_name}."
    )
    queues = models.ManyToManyField(
        "routing.WebchatQueue",
        blank=True,
        related_name="templates",
        help_text="Queues that offer this template. None: every queue.",
    )

    class Meta:
        ordering = ["company", "title"]
        verbose_name = "response template"

    def __str__(self) -> str:
        return self.title


class Chat(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey("contactcentre.Company", on_delete=models.CASCADE, related_name="chats")
    queue = models.ForeignKey("routing.WebchatQueue", on_delete=models.PROTECT, related_name="chats")
    arrival_queue = models.ForeignKey(
        "routing.WebchatQueue",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The queue the chat arrived in; `queue` is where it is now (after transfers). Blank: "
        "the same as `queue` (a row made without it).",
    )
    transfers = models.PositiveSmallIntegerField(default=0, help_text="How many times agents transferred it.")
    state = models.CharField(max_length=20, choices=ChatState.choices, default=ChatState.QUEUED)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    agent = models.ForeignKey(
        "contactcentre.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="chats"
    )
    customer_name = models.CharField(max_length=80, blank=True)
    visitor_id = models.CharField(max_length=100, blank=True)
    contact = models.ForeignKey(
        "crm.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="chats"
    )

    created_at = models.DateTimeField()
    queued_at = models.DateTimeField(help_text="When the chat first joined a queue; kept when it returns.")
    queue_priority = models.SmallIntegerField(default=0, help_text="Returned chats go to the front.")
    returned_by = models.ForeignKey(
        "contactcentre.Membership",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The agent who last put the chat back or transferred it; allocation gives it to them again "
        "only after PUT_BACK_REOFFER_SECONDS, and only when no other agent can take it.",
    )
    returned_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was last put back or transferred."
    )
    allocated_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was last given to an agent."
    )
    answered_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it was first given to an agent (taken or allocated); kept when "
        "it is put back or transferred.",
    )
    unseen = models.BooleanField(default=False, help_text="New in the inbox (the bell) until first opened.")

    activated_at = models.DateTimeField(
        null=True, blank=True, help_text="Start of the running handle-time clock."
    )
    handle_seconds = models.FloatField(default=0, help_text="Handle time before the running clock.")
    park_reason = models.CharField(max_length=20, choices=ParkReason.choices, blank=True)

    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=20, choices=EndedBy.choices, blank=True)

    wrapup_started_at = models.DateTimeField(null=True, blank=True)
    wrapup_deadline = models.DateTimeField(
        null=True, blank=True, help_text="When the running countdown ends."
    )
    wrapup_remaining_seconds = models.FloatField(null=True, blank=True, help_text="Paused countdown.")
    wrapup_extensions_used = models.PositiveSmallIntegerField(default=0)
    wrapup_parked_at = models.DateTimeField(null=True, blank=True, help_text="When its wrap-up was parked.")
    wrapup_parked_seconds = models.FloatField(
        default=0, help_text="Time its wrap-up spent parked, before now."
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    classification = models.ForeignKey(
        Classification, on_delete=models.SET_NULL, null=True, blank=True, related_name="chats"
    )
    classification_text = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    abusive = models.BooleanField(default=False)

    last_seq = models.PositiveIntegerField(default=0)
    customer_waiting_since = models.DateTimeField(
        null=True, blank=True, help_text="The customer's oldest message without an agent's reply after it."
    )
    reply_overdue = models.BooleanField(
        default=False, help_text="Waiting longer than the queue's reply alert."
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Every ordered read of a queue (the waiting list, allocation's claim, the places) sorts by these.
            models.Index(
                fields=["queue", "state", "-queue_priority", "queued_at", "id"], name="chat_queue_order"
            ),
            models.Index(fields=["agent", "state"], name="chat_agent_state"),
            models.Index(fields=["state", "wrapup_deadline"], name="chat_wrapup_deadline"),
            models.Index(fields=["company", "state"], name="chat_company_state"),
            # The wallboard's live figures (reports/live.py): a company's chats answered or ended lately.
            models.Index(fields=["company", "answered_at"], name="chat_company_answered"),
            models.Index(fields=["company", "ended_at"], name="chat_company_ended"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_name or 'Customer'} ({self.queue})"

    def save(self, *args, **kwargs) -> None:
        if self.arrival_queue_id is None and self.queue_id is not None and self._state.adding:
            self.arrival_queue_id = self.queue_id
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        return self.customer_name or "Customer"

    @property
    def customer_ended(self) -> bool:
        return self.ended_by == EndedBy.CUSTOMER


class Sender(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    AGENT = "agent", "Agent"
    SYSTEM = "system", "System"


class Message(models.Model):
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    client_id = models.CharField(max_length=64)
    sender = models.CharField(max_length=10, choices=Sender.choices)
    agent = models.ForeignKey(
        "contactcentre.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    agent_name = models.CharField(max_length=80, blank=True)
    text = models.TextField()
    agent_text = models.TextField(
        blank=True,
        help_text="What agents read instead of `text`, on the product's own messages worded differently for "
        "the customer (blank: the same as `text`).",
    )
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["chat", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["chat", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(fields=["chat", "client_id"], name="message_client_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.chat_id}#{self.seq}"

    @property
    def text_for_agents(self) -> str:
        return self.agent_text or self.text
