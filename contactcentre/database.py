"""Database work from an event loop: the sockets' and the publisher's calls into the ORM."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from channels.db import DatabaseSyncToAsync, database_sync_to_async
from django.conf import settings
from django.db import connection

# One pool of threads for the whole process, whatever event loop calls it: its size bounds the database
# connections the sockets use at once (each call takes one from the connection pool and gives it back).
_threads = ThreadPoolExecutor(max_workers=settings.DATABASE_THREADS, thread_name_prefix="database")


def in_database(func: Callable) -> DatabaseSyncToAsync:
    """`func` as an awaitable run in a worker thread, with Channels' handling of Django's connections.

    On PostgreSQL the calls run on the process's database threads, so one socket's wait on the database
    does not hold up every other socket of the process. SQLite (the embedded mode) takes one writer at a
    time: there the calls share Channels' one thread.
    """
    if connection.vendor == "sqlite":
        return database_sync_to_async(func)
    return database_sync_to_async(func, thread_sensitive=False, executor=_threads)
