"""Existing interactions: they arrived in the queue they closed in, and waited from opening to the answer
they record. Transfers before this release were not counted (0)."""

from django.db import migrations
from django.db.models import F

BATCH = 2000


def backfill(apps, schema_editor):
    Interaction = apps.get_model("crm", "Interaction")
    Interaction.objects.filter(arrival_webchat_queue__isnull=True, webchat_queue__isnull=False).update(
        arrival_webchat_queue=F("webchat_queue")
    )
    Interaction.objects.filter(arrival_voice_queue__isnull=True, voice_queue__isnull=False).update(
        arrival_voice_queue=F("voice_queue")
    )
    answered = Interaction.objects.filter(answered_at__isnull=False, wait_seconds__isnull=True).only(
        "pk", "opened_at", "answered_at"
    )
    batch = []
    for interaction in answered.iterator(chunk_size=BATCH):
        interaction.wait_seconds = round(
            max(0.0, (interaction.answered_at - interaction.opened_at).total_seconds()), 3
        )
        batch.append(interaction)
        if len(batch) >= BATCH:
            Interaction.objects.bulk_update(batch, ["wait_seconds"])
            batch = []
    if batch:
        Interaction.objects.bulk_update(batch, ["wait_seconds"])


class Migration(migrations.Migration):
    dependencies = [("crm", "0004_interaction_report_facts")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
