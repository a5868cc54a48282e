"""Running engine calls at the same moment, each in its own thread and database connection."""

import threading
from collections.abc import Callable

from django.db import connections


def run_together(workers: list[Callable[[], None]]) -> list[BaseException]:
    """Run each worker in its own thread (its own database connection), all released at once."""
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(work):
        try:
            barrier.wait()
            work()
        except BaseException as error:  # reported to the test, which fails on it
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors
