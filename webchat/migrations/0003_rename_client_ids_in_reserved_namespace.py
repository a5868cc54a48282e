"""Messages that clients stored with a client id of the product's own namespace get another one.

Before client ids starting with "system-" were refused, a client could store a message under the id the
product would give a later system message of the same chat (`system-<chat>-<seq>`); every later system
message of that chat (ending it, putting it back, transferring it, the agent's logout) then broke the
unique constraint. Each such client message is renamed to `system-client-<seq>` (its own sequence number,
so unique within the chat; with a suffix in the unlikely case that one is taken): the namespace stays the
product's, no system message uses that form, and no client can claim it any more. The product's own ids
are never touched: system messages, and `open-<chat>`, which the product gives a first message sent
without an id (an `open-` id a client chose cannot clash: the product gives that id only when the chat
opens, before any client message).
"""

from collections import defaultdict

from django.db import migrations

PREFIX = "system-"
RENAMED = "system-client-"


def rename_claimed_ids(apps, schema_editor):
    Message = apps.get_model("webchat", "Message")
    claimed = (
        Message.objects.filter(client_id__istartswith=PREFIX)
        .exclude(sender="system")
        .order_by("chat_id", "seq")
        .values_list("pk", "chat_id", "seq", "client_id")
    )
    by_chat = defaultdict(list)
    for row in claimed.iterator():
        by_chat[row[1]].append(row)
    for chat_id, rows in by_chat.items():
        # Every id of this chat that a new name could meet, kept as the rows are changed one by one, so that
        # no UPDATE ever meets the unique constraint.
        taken = set(
            Message.objects.filter(chat_id=chat_id, client_id__startswith=RENAMED).values_list(
                "client_id", flat=True
            )
        )
        for pk, _, seq, old in rows:
            taken.discard(old)
            new, n = f"{RENAMED}{seq}", 0
            while new in taken:
                n += 1
                new = f"{RENAMED}{seq}-{n}"
            Message.objects.filter(pk=pk).update(client_id=new)
            taken.add(new)


class Migration(migrations.Migration):
    dependencies = [
        ("webchat", "0002_queue_order_index_ends_with_id"),
    ]

    operations = [
        migrations.RunPython(rename_claimed_ids, migrations.RunPython.noop, elidable=True),
    ]
