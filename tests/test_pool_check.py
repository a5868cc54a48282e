"""Pooled database connections: one the server has closed is never handed to a request."""

import psycopg
import pytest
from django.db import connection

from runtime.postgresql.base import check_idle_connection
from webchat.models import Chat


def open_connection() -> psycopg.Connection:
    return psycopg.connect(**connection.get_connection_params(), autocommit=True)


def terminate(pids: list[int]) -> None:
    with open_connection() as admin:
        for pid in pids:
            # With a timeout, pg_terminate_backend returns once the backend has gone.
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])


def test_a_healthy_idle_connection_passes_and_stays_usable():
    with open_connection() as conn:
        check_idle_connection(conn)

        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_connection_whose_server_process_was_terminated_fails_the_check():
    with open_connection() as conn:
        pid = conn.info.backend_pid
        terminate([pid])

        with pytest.raises(psycopg.OperationalError):
            check_idle_connection(conn)


def test_a_closed_connection_fails_the_check():
    conn = open_connection()
    conn.close()

    with pytest.raises(psycopg.OperationalError):
        check_idle_connection(conn)


@pytest.mark.django_db(transaction=True)
def test_after_the_server_drops_every_pooled_connection_the_next_query_still_succeeds(company):
    connection.close()
    pool = connection.pool
    held = [pool.getconn() for _ in range(max(1, pool.get_stats()["pool_available"]))]
    pids = [conn.info.backend_pid for conn in held]
    for conn in held:
        pool.putconn(conn)
    connection.close()

    terminate(pids)

    # Every connection in the pool is dead; the check finds out and the pool hands out a fresh one.
    assert Chat.objects.count() == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] not in pids
