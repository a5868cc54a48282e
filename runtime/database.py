"""Database work from an event loop: the sockets' and the publisher's calls into the ORM."""

import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor

from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync, database_sync_to_async
from django.conf import settings
from django.db import connection

from runtime import metrics


def _new_threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.DATABASE_THREADS, thread_name_prefix="database")


# One pool of threads for the whole process, whatever event loop calls it: its size bounds the database
# connections the sockets use at once (each call takes one from the connection pool and gives it back).
# A forked child has none of its parent's threads, so it starts a pool of its own.
_threads = _new_threads()


def _renew_after_fork() -> None:
    global _threads
    _threads = _new_threads()


os.register_at_fork(after_in_child=_renew_after_fork)


class _ProcessThreads(Executor):
    """The process's database threads as they are now. `in_database` is applied when modules are imported
    (as a decorator too), so an executor it captured then would, in a process forked later, be the
    parent's: a child has none of its threads, and its count of idle ones says work will be picked up
    when nothing is there to pick it up."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return _threads.submit(metrics.database_call(fn), *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        _threads.shutdown(wait=wait, cancel_futures=cancel_futures)


_process_threads = _ProcessThreads()


def in_database(func: Callable) -> DatabaseSyncToAsync:
    """`func` as an awaitable run in a worker thread, with Channels' handling of Django's connections.

    On PostgreSQL the calls run on the process's database threads, so one socket's wait on the database
    does not hold up every other socket of the process. SQLite (the embedded mode) takes one writer at a
    time: there the calls share Channels' one thread.
    """
    if connection.vendor == "sqlite":
        return database_sync_to_async(func)
    return database_sync_to_async(func, thread_sensitive=False, executor=_process_threads)


class SocketDatabaseMixin:
    """For consumers whose every database call goes through `in_database`.

    Channels' consumers close obsolete database connections before handling each message: a hop to the
    process's one sync thread for every frame a socket receives or relays. Here each database call closes
    its own connections in its own thread, so the hop does nothing but wait: it is skipped.
    """

    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
