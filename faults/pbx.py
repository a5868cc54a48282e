"""A telephony system that repeats itself and mixes up the order of its events, as real ones do."""

import asyncio
import random

from faults.clients import Tally, http_json, in_thread
from faults.world import signed


class Pbx:
    def __init__(self, servers: list[str], company, tally: Tally, rng: random.Random) -> None:
        self.servers = servers
        self.company = company
        self.tally = tally
        self.rng = rng
        self.calls: list[str] = []

    async def send(self, event: dict, *, everywhere: bool = False) -> tuple[int, dict | None]:
        """POST one signed event; a PBX retries what got no answer (the API acts on each event once).
        `everywhere`: the same event to every server at the same moment, as a PBX retrying too eagerly."""
        if everywhere:
            answers = await asyncio.gather(*(self._send_to(server, event) for server in self.servers))
            statuses = {status for status, _ in answers}
            assert len(statuses) == 1, f"the same event got different answers at once: {answers}"
            return answers[0]
        return await self._send_to(None, event)

    async def _send_to(self, server: str | None, event: dict) -> tuple[int, dict | None]:
        body, headers = signed(self.company, {"company": self.company.slug, **event})
        for attempt in range(40):
            status, answer = await asyncio.to_thread(self._post, server, body, headers)
            self.tally.count("telephony events sent")
            if status not in (0, 502, 503):
                return status, answer
            await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
        raise AssertionError(f"the telephony API never answered {event}")

    def _post(self, server: str | None, body: bytes, headers: dict):
        url = (server or self.rng.choice(self.servers)) + "/api/telephony/v1/events"
        return http_json("POST", url, headers=headers, raw=body)

    async def call(
        self, call_id: str, *, hold: float, disorder: bool, everywhere: bool = False, timeout: float = 60
    ) -> None:
        """One call: announced twice; once an agent is offered it, answered twice, held, ended twice. With
        `disorder` the end overtakes the answer, and an answer comes before the call was even announced."""
        self.calls.append(call_id)
        if disorder:
            status, _ = await self.send({"event": "call.answered", "call_id": call_id, "agent": "nobody"})
            assert status == 404, f"an answer before the call was announced got {status}"
        arrived = {
            "event": "call.arrived",
            "call_id": call_id,
            "queue": "switchboard",
            "from": f"+44{self.rng.randrange(10**9):09d}",
        }
        for _ in range(2):
            status, answer = await self.send(arrived, everywhere=everywhere)
            assert status == 202, f"call.arrived got {status} {answer}"
        agent = await self._offered_to(call_id, timeout)
        answered = {"event": "call.answered", "call_id": call_id, "agent": agent}
        ended = {"event": "call.ended", "call_id": call_id}
        if disorder:
            events = [ended, answered, ended, answered]
        else:
            await self.send(answered, everywhere=everywhere)
            await asyncio.sleep(hold)
            events = [answered, ended, ended]
        for event in events:
            status, answer = await self.send(event, everywhere=everywhere)
            assert status == 202, f"{event['event']} got {status} {answer}"
        self.tally.count("calls")

    async def _offered_to(self, call_id: str, timeout: float) -> str:
        from routing.models import Call

        def offered() -> str | None:
            call = (
                Call.objects.select_related("agent__user")
                .filter(company=self.company, pbx_call_id=call_id)
                .first()
            )
            return call.agent.user.username if call and call.agent_id and call.state == "offered" else None

        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            username = await in_thread(offered)()
            if username:
                return username
            await asyncio.sleep(0.2)
        raise AssertionError(f"call {call_id} was never offered to an agent")
