"""An agent's inbox left open for days keeps hearing its events: group membership lasts as long as the
socket, whatever the clock says."""

import datetime as dt

import pytest
import time_machine
from channels.db import database_sync_to_async

from contactcentre.models import Presence
from routing import engine
from tests import factories
from tests.webchat_support import agent_socket, next_frame

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_inbox_open_for_two_days_still_hears_its_events():
    agent = await database_sync_to_async(factories.MembershipFactory)()
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)) as clock:
        ws = await agent_socket(agent)
        for _ in range(2):
            clock.shift(dt.timedelta(hours=25))
            await ws.send_json_to({"type": "heartbeat"})
            # Frames are handled in order: the answer to a bad one means the heartbeat was handled.
            await ws.send_json_to({"type": "bogus"})
            await next_frame(ws, lambda f: f["type"] == "error")
            await database_sync_to_async(engine.agent_set_presence)(agent=agent, presence=Presence.BREAK)
            assert (await next_frame(ws, lambda f: f["type"] == "presence"))["type"] == "presence"
            await database_sync_to_async(engine.agent_set_presence)(agent=agent, presence=Presence.AVAILABLE)
            await next_frame(ws, lambda f: f["type"] == "presence")
        await ws.disconnect()
