"""Known traffic for the staffing calculator's tests: interactions at chosen moments of a queue."""

import datetime as dt

from crm.models import Channel, Interaction

UTC = dt.UTC


def interaction(queue, *, at: dt.datetime, handle: float = 0, wrapup: float = 0, answered: bool = True):
    """An interaction of `queue` (webchat or voice) that arrived at `at`, answered a minute later (or
    never)."""
    voice = queue._meta.model_name == "voicequeue"
    return Interaction.objects.create(
        company=queue.company,
        channel=Channel.VOICE if voice else Channel.WEBCHAT,
        queue_name=queue.name,
        webchat_queue=None if voice else queue,
        voice_queue=queue if voice else None,
        opened_at=at,
        answered_at=at + dt.timedelta(minutes=1) if answered else None,
        ended_at=at + dt.timedelta(minutes=5),
        closed_at=at + dt.timedelta(minutes=6),
        handle_seconds=handle,
        wrapup_seconds=wrapup,
        outcome="ended" if answered else "abandoned",
    )


def known_traffic(queue, other_queue) -> None:
    """Four weeks before Monday 2 March 2026, 09:00 UTC (the `clock` fixture):

    - Mon 23 Feb, 10:00-11:00: 6 answered, 200 s handle + 40 s wrap-up each;
    - Tue 24 Feb, 10:00-11:00: 4 answered, 300 s + 60 s each, and 1 abandoned;
    - Mon 23 Feb, 14:00-15:00: 2 answered, 120 s + 0 s each;
    - five weeks back (too old) and on another queue (not this one's): traffic that must not count.

    Busiest hour 10:00: 11 arrivals over 2 days with traffic = 5.5 an hour. Handle time plus wrap-up of
    the answered: (6 × 240 + 4 × 360 + 2 × 120) / 12 = 3120 / 12 = 260 s.
    """
    monday, tuesday = dt.datetime(2026, 2, 23, 10, tzinfo=UTC), dt.datetime(2026, 2, 24, 10, tzinfo=UTC)
    for minute in range(6):
        interaction(queue, at=monday + dt.timedelta(minutes=5 + 8 * minute), handle=200, wrapup=40)
    for minute in range(4):
        interaction(queue, at=tuesday + dt.timedelta(minutes=10 * minute), handle=300, wrapup=60)
    interaction(queue, at=tuesday + dt.timedelta(minutes=50), answered=False)
    for minute in (0, 30):
        interaction(queue, at=monday.replace(hour=14, minute=minute), handle=120)
    for minute in range(20):
        interaction(queue, at=dt.datetime(2026, 1, 26, 10, minute, tzinfo=UTC), handle=1000)
    for minute in range(30):
        interaction(other_queue, at=monday + dt.timedelta(minutes=minute), handle=1000)
