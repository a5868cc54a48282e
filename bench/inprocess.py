"""CPU per call of the engine's hottest paths, in this process, without a server or sockets.

    python -m bench.inprocess             # storing messages, and one tick of the periodic jobs
    python -m bench.inprocess --calls 2000 --rounds 7

What the deployment's figures cannot separate: the engine's own cost, apart from Daphne, the consumers and
the channel layer. It recreates a database of its own (`contactcentre_inprocess`, or the one
BENCH_DATABASE_URL names, as `make bench` does with its own), makes one company with 200
agents each holding an active chat, and times on this process's CPU clock:

- `message`: `message_post_customer` and `message_post_agent` in turn, each in its own transaction with its
  connection handed back to the pool afterwards, as a socket's database call does; the frames each message
  would publish after commit are dropped (the channel layer is not what is measured here);
- `tick`: `scheduler.run_jobs_once()`, every periodic job once, as one Celery task a tick runs them, with
  nothing due.

Each figure is the median of `--rounds` rounds of `--calls` calls, after a warm-up round, pinned to the
load generator's core.
"""

import argparse
import os
import statistics
import time
import uuid

# A database of its own, so that it can run beside a `make bench` run without dropping that run's.
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/contactcentre_inprocess")

from bench import fixtures
from bench.common import LOADGEN_CORE, deployment_env, log, new_secret_key

AGENTS = 200


def _per_call_ms(function, calls: int, rounds: int) -> dict:
    function(calls)
    samples = []
    for _ in range(rounds):
        started = time.process_time()
        function(calls)
        samples.append((time.process_time() - started) * 1000 / calls)
    return {
        "median_ms": round(statistics.median(samples), 4),
        "min_ms": round(min(samples), 4),
        "max_ms": round(max(samples), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    os.sched_setaffinity(0, {LOADGEN_CORE})
    env = deployment_env(new_secret_key())
    fixtures.prepare_database(env)
    fixtures.setup_django(env)

    from django.db import close_old_connections

    from contactcentre.models import Membership
    from routing import engine, events, scheduler
    from webchat.models import Chat

    company = fixtures.company("inprocess")
    queue = fixtures.queue(company, "Messages", auto_allocate=False)
    agents = fixtures.agents(company, fixtures.profile_all(company), AGENTS, prefix="inprocess-")
    chat_ids = fixtures.chats(queue, AGENTS, state="active", agent_ids=[a.membership_id for a in agents])
    members = Membership.objects.select_related("user").in_bulk([a.membership_id for a in agents])
    pairs = [(chat.pk, members[chat.agent_id]) for chat in Chat.objects.filter(pk__in=chat_ids)]
    events.publish = lambda *args, **kwargs: None  # What is measured is the engine, not the channel layer.

    def messages(calls: int) -> None:
        for i in range(calls):
            chat_id, agent = pairs[i % len(pairs)]
            if i % 2:
                engine.message_post_customer(chat_id=chat_id, client_id=uuid.uuid4().hex, text="Where is it?")
            else:
                engine.message_post_agent(
                    agent=agent, chat_id=chat_id, client_id=uuid.uuid4().hex, text="It left this morning."
                )
            close_old_connections()

    def ticks(calls: int) -> None:
        for _ in range(calls):
            scheduler.run_jobs_once()

    figures = {
        "message": _per_call_ms(messages, args.calls, args.rounds),
        "tick": _per_call_ms(ticks, max(args.calls // 10, 1), args.rounds),
    }
    for name, figure in figures.items():
        spread = f"min {figure['min_ms']}, max {figure['max_ms']}"
        log(f"{name}: {figure['median_ms']} ms of CPU per call ({spread})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
