"""Factories for the suite: one per model, with the company threaded through."""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from contactcentre.models import Company, Membership, Presence, Role
from crm.models import Contact
from routing.models import BreakReason, QueueProfile, VoiceQueue, WebchatQueue
from webchat.models import Chat, ChatState, Classification, ResponseTemplate

PASSWORD = "correct-horse-battery"


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")


class WebchatQueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebchatQueue

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Queue {n}")


class VoiceQueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VoiceQueue

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Voice {n}")
    slug = factory.Sequence(lambda n: f"voice-{n}")


class QueueProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QueueProfile

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Profile {n}")
    all_queues = True


class BreakReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BreakReason

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Break {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Sequence(lambda n: f"Agent{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    """An agent, logged in and Available, serving every webchat queue of the company."""

    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    company = factory.SubFactory(CompanyFactory)
    role = Role.AGENT
    queue_profile = factory.LazyAttribute(lambda o: QueueProfileFactory(company=o.company, all_queues=True))
    presence = Presence.AVAILABLE
    presence_since = factory.LazyFunction(timezone.now)
    last_seen_at = factory.LazyFunction(timezone.now)


class ClassificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Classification

    company = factory.SubFactory(CompanyFactory)
    code = factory.Sequence(lambda n: f"C{n}")
    label = factory.Sequence(lambda n: f"Classification {n}")


class ResponseTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ResponseTemplate

    company = factory.SubFactory(CompanyFactory)
    title = factory.Sequence(lambda n: f"Template {n}")
    text = "Hello {customer_name}, this is {agent_name}."


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")


class ChatFactory(factory.django.DjangoModelFactory):
    """A queued chat written directly, for read-side tests; state changes go through the engine."""

    class Meta:
        model = Chat

    queue = factory.SubFactory(WebchatQueueFactory)
    company = factory.SelfAttribute("queue.company")
    state = ChatState.QUEUED
    customer_name = factory.Sequence(lambda n: f"Customer {n}")
    created_at = factory.LazyFunction(timezone.now)
    queued_at = factory.LazyAttribute(lambda o: o.created_at)
