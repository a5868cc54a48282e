"""Existing chats: they arrived in the queue they are in now (their transfers were not counted), and one
given to an agent but never made active was answered when it was last given (the first time is not known)."""

from django.db import migrations
from django.db.models import F


def backfill(apps, schema_editor):
    Chat = apps.get_model("webchat", "Chat")
    Chat.objects.filter(arrival_queue__isnull=True).update(arrival_queue=F("queue"))
    Chat.objects.filter(answered_at__isnull=True, allocated_at__isnull=False).update(
        answered_at=F("allocated_at")
    )


class Migration(migrations.Migration):
    dependencies = [("webchat", "0004_chat_report_facts")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
