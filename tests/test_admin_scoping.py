"""A company administrator sees and changes only their own company in the admin; a superuser sees all."""

from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from contactcentre.models import Role
from crm.models import Interaction
from routing.models import SERVICE_LEVEL_FIELDS, AgentStatusInterval, Call, QueueProfile, WebchatQueue
from tests import factories
from tests.two_factor_support import log_in_verified
from webchat.models import ResponseTemplate

pytestmark = pytest.mark.django_db


def company_objects(company, prefix: str) -> dict:
    queue = factories.WebchatQueueFactory(company=company, name=f"{prefix} Sales")
    contact = factories.ContactFactory(company=company, name=f"{prefix} Customer")
    agent = factories.MembershipFactory(company=company, user__username=f"{prefix.lower()}-agent")
    voice_queue = factories.VoiceQueueFactory(company=company, name=f"{prefix} Switchboard")
    return {
        "webchatqueue": queue,
        "queueprofile": factories.QueueProfileFactory(
            company=company, name=f"{prefix} Profile", all_queues=False
        ),
        "voicequeue": voice_queue,
        "breakreason": factories.BreakReasonFactory(company=company, name=f"{prefix} Lunch"),
        "responsetemplate": factories.ResponseTemplateFactory(company=company, title=f"{prefix} Greeting"),
        "classification": factories.ClassificationFactory(company=company, code=f"{prefix.upper()}1"),
        "membership": agent,
        "contact": contact,
        "chat": factories.ChatFactory(queue=queue, agent=agent, contact=contact),
        "interaction": Interaction.objects.create(
            company=company,
            contact=contact,
            channel="webchat",
            queue_name=queue.name,
            webchat_queue=queue,
            opened_at=timezone.now(),
            closed_at=timezone.now(),
            outcome="completed",
        ),
        "call": Call.objects.create(
            company=company, queue=voice_queue, pbx_call_id=f"{prefix}-1", arrived_at=timezone.now()
        ),
        "agentstatusinterval": AgentStatusInterval.objects.create(
            company=company, agent=agent, status="available", started_at=timezone.now()
        ),
    }


ADMIN_MODELS = {
    "webchatqueue": "routing",
    "queueprofile": "routing",
    "voicequeue": "routing",
    "breakreason": "routing",
    "responsetemplate": "webchat",
    "classification": "webchat",
    "membership": "contactcentre",
    "contact": "crm",
    "chat": "webchat",
    "interaction": "crm",
    "call": "routing",
    "agentstatusinterval": "routing",
}
READ_ONLY_MODELS = {"chat", "interaction", "call", "agentstatusinterval"}


def admin_url(obj, view: str = "change") -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_{view}", args=[obj.pk])


def changelist_url(model_name: str) -> str:
    return reverse(f"admin:{ADMIN_MODELS[model_name]}_{model_name}_changelist")


def add_url(model_name: str) -> str:
    return reverse(f"admin:{ADMIN_MODELS[model_name]}_{model_name}_add")


class SelectOptions(HTMLParser):
    """The option values of one named <select> in a page."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.inside = False
        self.values: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "select":
            self.inside = attrs.get("name") == self.name
        elif tag == "option" and self.inside and attrs.get("value"):
            self.values.add(attrs["value"])

    def handle_endtag(self, tag):
        if tag == "select":
            self.inside = False


def select_options(html: str, name: str) -> set[str]:
    parser = SelectOptions(name)
    parser.feed(html)
    return parser.values


def queue_form_data(queue: WebchatQueue | None = None, **changes) -> dict:
    """What the queue's admin form posts for a queue with these settings (the defaults otherwise)."""
    queue = queue or WebchatQueue()
    data = {
        "name": queue.name or "New queue",
        "allowed_origins": queue.allowed_origins,
        "widget_title": queue.widget_title,
        "widget_colour": queue.widget_colour,
        "welcome_message": queue.welcome_message,
        "max_queue_length": queue.max_queue_length,
        "wrapup_seconds": queue.wrapup_seconds,
        "wrapup_extension_seconds": queue.wrapup_extension_seconds,
        "wrapup_extensions": queue.wrapup_extensions,
        "max_chats_per_agent": queue.max_chats_per_agent or "",
        "reply_alert_seconds": queue.reply_alert_seconds,
        **{field: getattr(queue, field) for field in SERVICE_LEVEL_FIELDS},
    }
    flags = [
        "enabled",
        "auto_allocate",
        "wrapup_enabled",
        "allow_wait_without_agents",
        "agents_view_queue_status",
    ]
    data.update({flag: "on" for flag in flags if getattr(queue, flag)})
    data.update(changes)
    return data


@pytest.fixture
def company_a():
    return factories.CompanyFactory(name="Acme", slug="acme")


@pytest.fixture
def company_b():
    return factories.CompanyFactory(name="Brightside", slug="brightside")


@pytest.fixture
def ours(company_a):
    return company_objects(company_a, "Acme")


@pytest.fixture
def theirs(company_b):
    return company_objects(company_b, "Bright")


@pytest.fixture
def administrator(company_a):
    return factories.MembershipFactory(
        company=company_a, role=Role.ADMINISTRATOR, user__username="acme-admin", user__is_staff=True
    )


@pytest.fixture
def administrator_client(administrator) -> Client:
    return log_in_verified(Client(), administrator.user)


@pytest.mark.parametrize("model_name", ADMIN_MODELS)
def test_company_administrator_lists_only_their_company_objects(
    administrator_client, ours, theirs, model_name
):
    response = administrator_client.get(changelist_url(model_name))

    assert response.status_code == 200
    assert admin_url(ours[model_name]) in response.content.decode()
    assert admin_url(theirs[model_name]) not in response.content.decode()


@pytest.mark.parametrize(
    ("model_name", "view"),
    [(model_name, "change") for model_name in ADMIN_MODELS]
    + [(model_name, "history") for model_name in ADMIN_MODELS]
    + [(model_name, "delete") for model_name in ADMIN_MODELS if model_name not in READ_ONLY_MODELS],
)
def test_another_companys_object_does_not_exist_for_a_company_administrator(
    administrator_client, theirs, model_name, view
):
    response = administrator_client.get(admin_url(theirs[model_name], view), follow=True)

    assert response.redirect_chain[-1][0] == reverse("admin:index")
    assert "doesn’t exist" in response.content.decode()


def test_posting_a_change_to_another_companys_queue_changes_nothing(administrator_client, theirs):
    queue = theirs["webchatqueue"]

    response = administrator_client.post(admin_url(queue), queue_form_data(queue, name="Taken over"))

    assert response.status_code == 302
    queue.refresh_from_db()
    assert queue.name == "Bright Sales"


def test_deleting_another_companys_objects_from_a_list_deletes_nothing(administrator_client, theirs):
    queue = theirs["webchatqueue"]

    administrator_client.post(
        changelist_url("webchatqueue"),
        {"action": "delete_selected", "_selected_action": [queue.pk], "post": "yes"},
    )

    assert WebchatQueue.objects.filter(pk=queue.pk).exists()


@pytest.mark.parametrize(
    ("model_name", "field", "choice"),
    [
        ("membership", "queue_profile", "queueprofile"),
        ("membership", "voice_queues", "voicequeue"),
        ("queueprofile", "queues", "webchatqueue"),
        ("responsetemplate", "queues", "webchatqueue"),
        ("classification", "queues", "webchatqueue"),
    ],
)
def test_form_choices_are_only_the_company_objects(
    administrator_client, ours, theirs, model_name, field, choice
):
    for url in [add_url(model_name), admin_url(ours[model_name])]:
        options = select_options(administrator_client.get(url).content.decode(), field)

        assert str(ours[choice].pk) in options
        assert str(theirs[choice].pk) not in options


@pytest.mark.parametrize(
    ("app_label", "model_name", "field_name", "choice"),
    [
        ("crm", "interaction", "contact", "contact"),
        ("webchat", "chat", "queue", "webchatqueue"),
        ("webchat", "chat", "agent", "membership"),
    ],
)
def test_autocomplete_offers_only_the_company_objects(
    administrator_client, ours, theirs, app_label, model_name, field_name, choice
):
    response = administrator_client.get(
        reverse("admin:autocomplete"),
        {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": ""},
    )

    ids = {result["id"] for result in response.json()["results"]}
    assert str(ours[choice].pk) in ids
    assert str(theirs[choice].pk) not in ids


def test_choosing_another_companys_queue_for_a_profile_is_refused(administrator_client, theirs):
    response = administrator_client.post(
        add_url("queueprofile"), {"name": "Sneaky", "queues": [theirs["webchatqueue"].pk]}
    )

    assert response.status_code == 200
    assert "queues" in response.context["adminform"].form.errors
    assert not QueueProfile.objects.filter(name="Sneaky").exists()


def test_creating_a_queue_puts_it_in_the_administrators_company(administrator_client, company_a, company_b):
    response = administrator_client.post(
        add_url("webchatqueue"), queue_form_data(name="Returns", company=company_b.pk)
    )

    assert response.status_code == 302
    assert WebchatQueue.objects.get(name="Returns").company == company_a


def test_the_company_field_is_hidden_from_a_company_administrator(administrator_client, ours):
    for url in [add_url("webchatqueue"), admin_url(ours["webchatqueue"]), admin_url(ours["membership"])]:
        assert 'name="company"' not in administrator_client.get(url).content.decode()


def test_a_superuser_sees_and_sets_every_company(admin_client, ours, theirs):
    response = admin_client.get(changelist_url("webchatqueue"))

    assert admin_url(ours["webchatqueue"]) in response.content.decode()
    assert admin_url(theirs["webchatqueue"]) in response.content.decode()
    assert 'name="company"' in admin_client.get(add_url("webchatqueue")).content.decode()


def test_a_superuser_cannot_give_a_profile_another_companys_queue(admin_client, company_a, theirs):
    response = admin_client.post(
        add_url("queueprofile"),
        {"company": company_a.pk, "name": "Mixed", "queues": [theirs["webchatqueue"].pk]},
    )

    assert "belongs to another company" in str(response.context["adminform"].form.errors["queues"])
    assert not QueueProfile.objects.filter(name="Mixed").exists()


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR])
def test_agents_and_supervisors_are_sent_to_the_login_page(client, company_a, role):
    member = factories.MembershipFactory(company=company_a, role=role)
    log_in_verified(client, member.user)

    response = client.get(changelist_url("webchatqueue"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_logins_of_every_company_are_for_superusers_only(administrator_client):
    assert administrator_client.get(reverse("admin:auth_user_changelist")).status_code == 403


def test_a_company_administrator_changes_only_their_own_company(administrator_client, company_a, company_b):
    own = administrator_client.get(reverse("admin:contactcentre_company_change", args=[company_a.pk]))
    other = administrator_client.get(reverse("admin:contactcentre_company_change", args=[company_b.pk]))

    assert own.status_code == 200
    assert other.status_code == 302
    assert administrator_client.get(reverse("admin:contactcentre_company_add")).status_code == 403
    assert administrator_client.get(admin_url(company_a, "delete")).status_code == 403


def test_the_queue_page_shows_its_snippet_with_a_copy_button(administrator_client, ours):
    queue = ours["webchatqueue"]

    page = administrator_client.get(admin_url(queue)).content.decode()

    snippet = (
        '<script src="http://testserver/static/webchat/widget.js" '
        f'data-queue-token="{queue.token}" async></script>'
    )
    assert escape(snippet) in page
    assert ">Copy</button>" in page
    assert 'id="regenerate-token-form"' in page


def test_regenerating_the_token_from_the_queue_page_changes_it(administrator_client, ours):
    queue = ours["webchatqueue"]
    old_token = queue.token

    response = administrator_client.post(
        reverse("admin:routing_webchatqueue_regenerate_token", args=[queue.pk])
    )

    assert response.status_code == 302
    queue.refresh_from_db()
    assert queue.token != old_token
    assert queue.token in administrator_client.get(admin_url(queue)).content.decode()


def test_regenerating_tokens_from_the_queue_list_changes_them(administrator_client, ours):
    queue = ours["webchatqueue"]
    old_token = queue.token

    administrator_client.post(
        changelist_url("webchatqueue"), {"action": "regenerate_tokens", "_selected_action": [queue.pk]}
    )

    queue.refresh_from_db()
    assert queue.token != old_token


def test_another_companys_token_cannot_be_regenerated(administrator_client, theirs):
    queue = theirs["webchatqueue"]
    old_token = queue.token

    administrator_client.post(reverse("admin:routing_webchatqueue_regenerate_token", args=[queue.pk]))

    queue.refresh_from_db()
    assert queue.token == old_token


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_queue_length", "0"),
        ("max_queue_length", "-5"),
        ("wrapup_seconds", "0"),
        ("wrapup_extension_seconds", "-1"),
        ("wrapup_extensions", "-1"),
        ("max_chats_per_agent", "0"),
        ("reply_alert_seconds", "0"),
        ("allowed_origins", "www.example.com"),
        ("allowed_origins", "https://www.example.com/chat"),
        ("widget_colour", "blue"),
    ],
)
def test_invalid_queue_settings_are_shown_and_nothing_is_saved(administrator_client, ours, field, value):
    queue = ours["webchatqueue"]

    response = administrator_client.post(
        admin_url(queue), queue_form_data(queue, name="Renamed", **{field: value})
    )

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert "errornote" in response.content.decode()
    queue.refresh_from_db()
    assert queue.name == "Acme Sales"


def test_zero_wrapup_extensions_is_accepted(administrator_client, ours):
    queue = ours["webchatqueue"]

    response = administrator_client.post(admin_url(queue), queue_form_data(queue, wrapup_extensions="0"))

    assert response.status_code == 302
    queue.refresh_from_db()
    assert queue.wrapup_extensions == 0


def test_a_queue_name_taken_in_the_company_is_an_error_but_another_companys_is_not(
    administrator_client, ours, theirs
):
    taken = administrator_client.post(add_url("webchatqueue"), queue_form_data(name="Acme Sales"))
    free = administrator_client.post(add_url("webchatqueue"), queue_form_data(name="Bright Sales"))

    assert taken.status_code == 200
    assert "already exists" in taken.content.decode()
    assert free.status_code == 302


def test_a_template_with_an_unknown_placeholder_is_refused(administrator_client):
    response = administrator_client.post(
        add_url("responsetemplate"), {"title": "Typo", "text": "Hello {customer}, I am {agent_name}."}
    )

    assert "Unknown placeholder {customer}" in response.content.decode()
    assert not ResponseTemplate.objects.filter(title="Typo").exists()


def agent_form_data(**changes) -> dict:
    data = {
        "username": "carol",
        "password": "a-long-and-unusual-passphrase",
        "first_name": "Carol",
        "last_name": "Jones",
        "email": "carol@example.com",
        "is_active": "on",
        "role": Role.AGENT,
        "display_name": "",
        "extension": "",
        "can_webchat": "on",
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def test_creating_an_agent_creates_their_login_in_the_company(administrator_client, company_a, ours):
    response = administrator_client.post(
        add_url("membership"),
        agent_form_data(
            queue_profile=ours["queueprofile"].pk, voice_queues=[ours["voicequeue"].pk], can_voice="on"
        ),
    )

    assert response.status_code == 302
    user = get_user_model().objects.get(username="carol")
    assert user.check_password("a-long-and-unusual-passphrase")
    assert not user.is_staff
    assert user.membership.company == company_a
    assert user.membership.queue_profile == ours["queueprofile"]
    assert list(user.membership.voice_queues.all()) == [ours["voicequeue"]]


def test_a_new_agent_needs_a_password(administrator_client):
    response = administrator_client.post(add_url("membership"), agent_form_data(password=""))

    assert "password" in response.context["adminform"].form.errors
    assert not get_user_model().objects.filter(username="carol").exists()


def test_an_agent_cannot_get_another_companys_profile(administrator_client, theirs):
    response = administrator_client.post(
        add_url("membership"), agent_form_data(queue_profile=theirs["queueprofile"].pk)
    )

    assert "queue_profile" in response.context["adminform"].form.errors


def test_the_administrator_role_makes_a_login_staff_and_other_roles_do_not(administrator_client, ours):
    agent = ours["membership"]
    data = agent_form_data(username=agent.user.username, password="")

    administrator_client.post(admin_url(agent), {**data, "role": Role.ADMINISTRATOR})
    agent.user.refresh_from_db()
    promoted = agent.user.is_staff
    administrator_client.post(admin_url(agent), {**data, "role": Role.SUPERVISOR})
    agent.user.refresh_from_db()

    assert promoted
    assert not agent.user.is_staff


def test_changing_an_agent_keeps_their_password_unless_a_new_one_is_given(administrator_client, ours):
    agent = ours["membership"]

    response = administrator_client.post(
        admin_url(agent), agent_form_data(username=agent.user.username, password="", extension="301")
    )

    assert response.status_code == 302
    agent.user.refresh_from_db()
    assert agent.user.check_password(factories.PASSWORD)
    assert agent.user.first_name == "Carol"


def test_an_agents_presence_is_shown_but_not_editable(administrator_client, ours):
    page = administrator_client.get(admin_url(ours["membership"])).content.decode()

    assert "Presence" in page
    assert 'name="presence"' not in page


def test_an_administrator_cannot_take_away_their_own_administrator_role(administrator_client, administrator):
    data = agent_form_data(username=administrator.user.username, password="", role=Role.AGENT)

    response = administrator_client.post(admin_url(administrator), data)

    assert "role" in response.context["adminform"].form.errors
    administrator.refresh_from_db()
    assert administrator.role == Role.ADMINISTRATOR


def test_a_superusers_membership_is_not_the_company_administrators_to_change(administrator_client, company_a):
    operator = factories.MembershipFactory(company=company_a, user__is_superuser=True, user__is_staff=True)

    response = administrator_client.get(admin_url(operator))

    assert response.status_code == 302


def test_chats_are_read_only(administrator_client, ours):
    chat = ours["chat"]

    page = administrator_client.get(admin_url(chat))

    assert page.status_code == 200
    assert chat.customer_name in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert administrator_client.post(admin_url(chat), {"customer_name": "Changed"}).status_code == 403
    assert administrator_client.get(add_url("chat")).status_code == 403
    assert administrator_client.get(admin_url(chat, "delete")).status_code == 403


def test_a_weak_password_for_an_agent_is_refused(administrator_client):
    response = administrator_client.post(add_url("membership"), agent_form_data(password="carol"))

    assert "password" in response.context["adminform"].form.errors
    assert not get_user_model().objects.filter(username="carol").exists()


def test_memberships_are_listed_as_agents(administrator_client):
    response = administrator_client.get(changelist_url("membership"))

    assert response.context["title"] == "Agents"
