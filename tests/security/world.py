"""Two companies side by side, for the isolation matrix: Acme (whose people attack) and Brightside (whose
data they try to reach), and a colleague in Acme whose chat nobody else may touch.

Every private text of Brightside and of the colleague's chat carries a marker, so that a response showing
any of it is caught wherever it appears. Within Acme, the agent's and the supervisor's Webchat Queues
profile shows Acme Support only; what happened in Acme Private (an interaction with a contact they may
read, handled by the colleague) carries a marker of its own, for the administrator's eyes only."""

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from contactcentre.models import AuditEntry, Company, Membership, Role
from crm.models import Interaction
from routing import engine
from routing.models import AgentStatusInterval, Call, CallState, QueueProfile
from tests import factories
from tests.two_factor_support import log_in_verified
from webchat.models import Chat
from webchat.tokens import customer_token_for

B_SECRET = "SECRET-OF-BRIGHTSIDE"
COLLEAGUE_SECRET = "SECRET-OF-A-COLLEAGUE"
QUEUE_SECRET = "SECRET-OF-ANOTHER-QUEUE"
ACTORS = ("agent", "supervisor", "administrator", "anonymous")


@dataclass
class World:
    a: Company
    b: Company
    members: dict[str, Membership]  # Acme's actors (agent, supervisor, administrator)
    own_chats: dict[str, Chat]  # each Acme actor's active chat
    colleague: Membership
    colleague_chat: Chat
    a_token: str  # a customer token of an Acme chat: the wrong token for anything of Brightside
    b_objects: dict[str, object] = field(default_factory=dict)
    # Acme's contact, open to every member, whose history holds an interaction of Acme Private.
    a_contact: object = None
    private_interaction: Interaction | None = None

    def client(self, actor: str) -> Client:
        client = Client(raise_request_exception=False)
        if actor != "anonymous":
            log_in_verified(client, self.members[actor].user)
        return client


def build() -> World:
    a = factories.CompanyFactory(name="Acme", slug="acme")
    b = factories.CompanyFactory(name="Brightside", slug="brightside")
    a_queue = factories.WebchatQueueFactory(company=a, name="Acme Support", auto_allocate=False)
    a_private = factories.WebchatQueueFactory(company=a, name="Acme Private", auto_allocate=False)
    a_voice = factories.VoiceQueueFactory(company=a, name="Acme Switchboard", slug="switchboard")
    support_only = QueueProfile.objects.create(company=a, name="Acme Support only")
    support_only.queues.add(a_queue)
    roles = {"agent": Role.AGENT, "supervisor": Role.SUPERVISOR, "administrator": Role.ADMINISTRATOR}
    members = {
        actor: factories.MembershipFactory(
            company=a,
            role=role,
            user__username=f"acme-{actor}",
            user__is_staff=role == Role.ADMINISTRATOR,
            can_voice=True,
            **({} if role == Role.ADMINISTRATOR else {"queue_profile": support_only}),
        )
        for actor, role in roles.items()
    }
    for member in members.values():
        member.voice_queues.add(a_voice)
    own_chats = {
        actor: _active_chat(a_queue, member, f"Acme customer of {actor}") for actor, member in members.items()
    }
    colleague = factories.MembershipFactory(
        company=a, user__username="acme-colleague", display_name="Colleague"
    )
    colleague_chat = _active_chat(a_queue, colleague, f"{COLLEAGUE_SECRET} customer")
    engine.message_post_customer(
        chat_id=colleague_chat.pk, client_id="cc-1", text=f"{COLLEAGUE_SECRET} message"
    )
    a_contact = factories.ContactFactory(company=a, name="Acme regular")
    private = _active_chat(a_private, colleague, "Acme private customer")
    engine.message_post_customer(chat_id=private.pk, client_id="p-1", text=f"{QUEUE_SECRET} message")
    engine.chat_assign_contact(agent=colleague, chat_id=private.pk, contact_id=a_contact.pk)
    engine.chat_end(agent=colleague, chat_id=private.pk)
    engine.wrapup_complete(agent=colleague, chat_id=private.pk, notes=f"{QUEUE_SECRET} notes")
    for actor, chat in own_chats.items():
        # Each actor's chat is with the same contact: the history beside it lists the contact's interactions.
        engine.chat_assign_contact(agent=members[actor], chat_id=chat.pk, contact_id=a_contact.pk)

    world = World(
        a=a,
        b=b,
        members=members,
        own_chats=own_chats,
        colleague=colleague,
        colleague_chat=colleague_chat,
        a_token=customer_token_for(chat_id=own_chats["agent"].pk),
        a_contact=a_contact,
        private_interaction=Interaction.objects.get(chat=private),
    )
    world.b_objects = _brightside(b)
    return world


def _active_chat(queue, agent: Membership, customer_name: str) -> Chat:
    chat = engine.chat_open(queue_token=queue.token, customer_name=customer_name).chat
    engine.chat_take(agent=agent, chat_id=chat.pk)
    return engine.chat_activate(agent=agent, chat_id=chat.pk)


def _brightside(b: Company) -> dict[str, object]:
    """Brightside's objects, one of each kind an attacker could name, each carrying the marker."""
    secret = B_SECRET
    # A queue's name is shown on the public demo page to whoever has its (public) token: no marker.
    queue = factories.WebchatQueueFactory(
        company=b, name="Brightside Sales", auto_allocate=False, allowed_origins="https://brightside.example"
    )
    disabled_queue = factories.WebchatQueueFactory(company=b, name=f"{secret} closed queue", enabled=False)
    voice_queue = factories.VoiceQueueFactory(company=b, name=f"{secret} switchboard", slug="b-switchboard")
    profile = QueueProfile.objects.create(company=b, name=f"{secret} profile", all_queues=True)
    agent = factories.MembershipFactory(
        company=b,
        queue_profile=profile,
        user__username="brightside-agent",
        user__first_name=f"{secret} agent",
        can_voice=True,
    )
    agent.voice_queues.add(voice_queue)
    administrator = factories.MembershipFactory(
        company=b, role=Role.ADMINISTRATOR, user__username="brightside-admin", user__is_staff=True
    )
    contact = factories.ContactFactory(company=b, name=f"{secret} contact", notes=f"{secret} notes")
    chat = _active_chat(queue, agent, f"{secret} customer")
    engine.message_post_customer(chat_id=chat.pk, client_id="b-1", text=f"{secret} message")
    engine.chat_record_details(agent=agent, chat_id=chat.pk, notes=f"{secret} chat notes")
    waiting = engine.chat_open(queue_token=queue.token, customer_name=f"{secret} waiting").chat
    closed = _active_chat(queue, agent, f"{secret} closed customer")
    engine.chat_assign_contact(agent=agent, chat_id=closed.pk, contact_id=contact.pk)
    engine.chat_end(agent=agent, chat_id=closed.pk)
    engine.wrapup_complete(agent=agent, chat_id=closed.pk, notes=f"{secret} wrap-up notes")
    call = Call.objects.create(
        company=b,
        queue=voice_queue,
        pbx_call_id=f"b-call-{uuid.uuid4().hex[:6]}",
        state=CallState.OFFERED,
        agent=agent,
        arrived_at=timezone.now(),
        offered_at=timezone.now(),
        offer_deadline=timezone.now() + dt.timedelta(minutes=5),
        notes=f"{secret} call notes",
    )
    return {
        "company": b,
        "webchatqueue": queue,
        "disabled_queue": disabled_queue,
        "voicequeue": voice_queue,
        "queueprofile": profile,
        "membership": agent,
        "administrator": administrator,
        "user": agent.user,
        "group": Group.objects.create(name=f"{secret} group"),
        "breakreason": factories.BreakReasonFactory(company=b, name=f"{secret} lunch"),
        "responsetemplate": factories.ResponseTemplateFactory(
            company=b, title=f"{secret} template", text=f"{secret} text"
        ),
        "classification": factories.ClassificationFactory(company=b, code="BSECRET", label=f"{secret} label"),
        "contact": contact,
        "chat": chat,
        "waiting_chat": waiting,
        "closed_chat": closed,
        "message": chat.messages.get(client_id="b-1"),
        "interaction": Interaction.objects.get(chat=closed),
        "call": call,
        "agentstatusinterval": AgentStatusInterval.objects.filter(agent=agent).order_by("pk").first(),
        "token": customer_token_for(chat_id=chat.pk),
        "auditentry": AuditEntry.objects.get_for_object(profile).get(),
    }
