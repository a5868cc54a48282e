"""A call through the telephony API, as a telephony system would make it: for demos and tests.

It sends call.arrived, waits for an agent to answer (the agent UI's Answer button), holds the call for
the given time (less if the agent hangs up first), then sends call.ended. A call nobody answers in time
is ended as the caller hanging up.
"""

import json
import time
import urllib.error
import urllib.request
import uuid

from django.core.management.base import BaseCommand, CommandError

from contactcentre.models import Company
from routing.models import Call, CallState
from routing.telephony import signed_json

POLL_SECONDS = 0.25


class Command(BaseCommand):
    help = "Simulate a call through the telephony API: arrive, wait for an answer, hold, end."

    def add_arguments(self, parser):
        parser.add_argument("--company", required=True, help="The company's slug.")
        parser.add_argument("--queue", required=True, help="The voice queue's slug.")
        parser.add_argument("--from", dest="number", default="+441234567890", help="The caller's number.")
        parser.add_argument(
            "--hold",
            type=float,
            default=10.0,
            help="Seconds the call lasts once answered, unless the agent hangs up first.",
        )
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the product is served.")
        parser.add_argument(
            "--answer-timeout", type=float, default=120.0, help="Seconds to wait for an answer."
        )
        parser.add_argument("--call-id", default="", help="The telephony call id (default: a new one).")

    def handle(self, *args, **options):
        company = Company.objects.filter(slug=options["company"]).first()
        if company is None:
            raise CommandError(f"No company with the slug {options['company']!r}.")
        call_id = options["call_id"] or f"sim-{uuid.uuid4().hex[:12]}"
        endpoint = options["url"].rstrip("/") + "/api/telephony/v1/events"
        send = lambda event: self._post(endpoint, company.telephony_secret, event)  # noqa: E731

        send(
            {
                "event": "call.arrived",
                "company": company.slug,
                "call_id": call_id,
                "queue": options["queue"],
                "from": options["number"],
            }
        )
        self.stdout.write(f"Call {call_id} from {options['number']} arrived on {options['queue']}.")
        answered = self._wait_for_answer(company, call_id, options["answer_timeout"])
        if answered:
            self.stdout.write(f"Answered by {answered}; holding for {options['hold']:g} s.")
            if self._wait_for_hang_up(company, call_id, options["hold"]):
                self.stdout.write("The agent hung up.")
        else:
            self.stdout.write("Nobody answered in time: the caller hangs up.")
        send({"event": "call.ended", "company": company.slug, "call_id": call_id})
        self.stdout.write(f"Call {call_id} ended.")

    def _wait_for_answer(self, company: Company, call_id: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            call = (
                Call.objects.filter(company=company, pbx_call_id=call_id)
                .select_related("agent__user")
                .first()
            )
            if call is not None and call.state in (CallState.CONNECTED, CallState.WRAPUP, CallState.CLOSED):
                return call.agent.user.username if call.agent_id else "nobody"
            time.sleep(POLL_SECONDS)
        return None

    def _wait_for_hang_up(self, company: Company, call_id: str, hold: float) -> bool:
        """Hold the call for `hold` seconds; True as soon as the agent has hung up instead."""
        deadline = time.monotonic() + hold
        while (left := deadline - time.monotonic()) > 0:
            connected = Call.objects.filter(company=company, pbx_call_id=call_id, state=CallState.CONNECTED)
            if not connected.exists():
                return True
            time.sleep(min(POLL_SECONDS, left))
        return False

    def _post(self, endpoint: str, secret: str, event: dict) -> dict:
        body, headers = signed_json(secret, event)
        request = urllib.request.Request(endpoint, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as refusal:
            raise CommandError(
                f"{event['event']} refused: {refusal.code} {refusal.read().decode()}"
            ) from None
        except urllib.error.URLError as problem:
            raise CommandError(
                f"Cannot reach {endpoint}: {problem.reason}. Is the product running?"
            ) from None
