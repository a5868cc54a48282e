"""What every periodic job shares: each of its items is handled on its own.

A job (the engine's sweeps and expiries, the CRM's retention) hands its items to `each`: one item that fails
(a bad row, a database error) is logged with its id and skipped, and never stops the job for the items after
it, least of all another company's.
"""

import logging
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any

from django.db import connection, transaction

from runtime import metrics


def each(
    job: str,
    items: Iterable,
    handle: Callable[[Any], object],
    *,
    log: logging.Logger,
    expected: tuple[type[Exception], ...] = (),
) -> int:
    """Run `handle` on each item in turn; returns how many gave a true answer.

    Each item runs in transactions of its own. Called inside a transaction (a caller's, or a test's), each
    item gets a savepoint, so that a failed one is rolled back alone and the transaction goes on. An
    `expected` exception (a race lost to another transition) is noted at info level; any other is logged
    with its traceback as "<job>: <item> failed and was skipped".
    """
    done = 0
    for item in items:
        try:
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                if handle(item):
                    done += 1
        except expected as refusal:
            log.info("%s: %s skipped (%s)", job, item, getattr(refusal, "code", refusal), extra={"job": job})
        except Exception:
            metrics.JOB_ITEM_FAILURES.labels(job).inc()
            log.exception("%s: %s failed and was skipped", job, item, extra={"job": job, "item": str(item)})
    return done
