"""Each queue's KPI settings: their defaults, their rules, and the admin's Service level fieldset."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from crm.models import Interaction
from routing.models import SERVICE_LEVEL_FIELDS, VoiceQueue, WebchatQueue
from tests import factories
from tests.reports.conftest import at
from tests.two_factor_support import log_in_verified
from webchat.models import Chat


def settings_of(queue) -> dict:
    return {field: getattr(queue, field) for field in SERVICE_LEVEL_FIELDS}


def test_the_defaults_differ_only_in_the_target_time():
    assert settings_of(WebchatQueue()) == {
        "sl_target_seconds": 60,
        "sl_target_pct": 80,
        "short_abandon_seconds": 5,
        "kpi_window_minutes": 15,
        "sl_warning_pct": 70,
    }
    assert settings_of(VoiceQueue()) == settings_of(WebchatQueue()) | {"sl_target_seconds": 20}


@pytest.mark.parametrize("model", [WebchatQueue, VoiceQueue])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sl_target_seconds", 0),
        ("sl_target_pct", 0),
        ("sl_target_pct", 101),
        ("sl_warning_pct", 0),
        ("sl_warning_pct", 80),  # not below the target
        ("sl_warning_pct", 95),
        ("kpi_window_minutes", 0),
        ("short_abandon_seconds", -1),
    ],
)
def test_settings_out_of_range_are_refused(db, company, model, field, value):
    identity = {"slug": "sales"} if model is VoiceQueue else {}
    queue = model(company=company, name="Sales", **identity, **{field: value})

    with pytest.raises(ValidationError) as refused:
        queue.full_clean()

    assert field in refused.value.message_dict


def test_a_warning_below_the_target_is_accepted(db, company):
    queue = WebchatQueue(company=company, name="Sales", sl_target_pct=90, sl_warning_pct=89)
    queue.full_clean()


@pytest.fixture
def administrator(company):
    return factories.MembershipFactory(company=company, role="administrator", user__is_staff=True)


def voice_form(queue: VoiceQueue, **changes) -> dict:
    return {
        "name": queue.name,
        "slug": queue.slug,
        "ring_timeout_seconds": queue.ring_timeout_seconds,
        "wrapup_seconds": queue.wrapup_seconds,
        **settings_of(queue),
        **changes,
    }


def test_an_administrator_sets_a_voice_queues_service_level_in_the_admin(client, company, administrator):
    queue = factories.VoiceQueueFactory(company=company, slug="switchboard")
    log_in_verified(client, administrator.user)
    url = f"/admin/routing/voicequeue/{queue.pk}/change/"

    page = client.get(url)
    assert page.status_code == 200
    assert "Service level" in page.text and "sl_warning_pct" in page.text

    refused = client.post(url, voice_form(queue, sl_target_pct=75, sl_warning_pct=80))
    assert refused.status_code == 200
    assert "Set the warning below the target percentage." in refused.text

    saved = client.post(url, voice_form(queue, sl_target_seconds=30, sl_target_pct=90, sl_warning_pct=75))
    assert saved.status_code == 302
    queue.refresh_from_db()
    assert (queue.sl_target_seconds, queue.sl_target_pct, queue.sl_warning_pct) == (30, 90, 75)


def test_the_webchat_queue_page_has_the_service_level_fieldset(client, company, administrator):
    queue = factories.WebchatQueueFactory(company=company)
    log_in_verified(client, administrator.user)

    page = client.get(f"/admin/routing/webchatqueue/{queue.pk}/change/")

    assert "Service level" in page.text
    for field in SERVICE_LEVEL_FIELDS:
        assert f'name="{field}"' in page.text


def test_the_backfill_gives_existing_rows_their_arrival_queue_and_wait(db, clock, company):
    queue = factories.WebchatQueueFactory(company=company)
    voice = factories.VoiceQueueFactory(company=company)
    chat = factories.ChatFactory(queue=queue)
    Chat.objects.filter(pk=chat.pk).update(arrival_queue=None, answered_at=None, allocated_at=at(seconds=9))
    answered = Interaction.objects.create(
        company=company,
        channel="webchat",
        queue_name=queue.name,
        webchat_queue=queue,
        opened_at=at(),
        answered_at=at(seconds=42),
        closed_at=at(minutes=5),
        outcome="completed",
    )
    unanswered = Interaction.objects.create(
        company=company,
        channel="voice",
        queue_name=voice.name,
        voice_queue=voice,
        opened_at=at(),
        closed_at=at(seconds=8),
        outcome="abandoned",
    )

    importlib.import_module("webchat.migrations.0005_backfill_chat_report_facts").backfill(apps, None)
    importlib.import_module("crm.migrations.0005_backfill_interaction_report_facts").backfill(apps, None)

    chat.refresh_from_db()
    assert (chat.arrival_queue_id, chat.answered_at) == (queue.pk, at(seconds=9))
    answered.refresh_from_db()
    unanswered.refresh_from_db()
    assert (answered.arrival_webchat_queue_id, answered.wait_seconds) == (queue.pk, 42)
    assert (unanswered.arrival_voice_queue_id, unanswered.wait_seconds) == (voice.pk, None)
