"""Django's PostgreSQL backend, with a check of pooled connections that costs no round trip.

With `CONN_HEALTH_CHECKS`, Django has psycopg_pool send an empty query before it hands out a connection: a
round trip to the server for every database call, which on the sockets' hot path (a message is one call)
costs as much as a statement. An idle connection that is still good has nothing to read: when the server
closes it (a restart, an administrator's terminate, an idle timeout) it first sends an error and the end of
the stream, which make the socket readable. So the pool hands connections out unchecked, and this backend
looks at each one's socket without waiting, sending the empty query only when there is something to read.
"""

import select

import psycopg
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool


def check_idle_connection(conn: psycopg.Connection) -> None:
    """Return quietly if `conn` looks usable, else raise psycopg.OperationalError."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        # Something arrived on an idle connection: most likely the server's goodbye. The full check reads
        # it and raises if the connection is gone, or consumes a harmless notice and returns.
        ConnectionPool.check_connection(conn)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        if not self.pool:
            return super().get_new_connection(conn_params)
        # A dead connection given back is discarded by the pool, which opens a replacement; past as many
        # attempts as the pool holds connections, the server is down and the error is the caller's.
        for attempt in range(self.pool.max_size + 1):
            connection = super().get_new_connection(conn_params)
            try:
                check_idle_connection(connection)
                return connection
            except psycopg.OperationalError:
                connection.close()
                self.pool.putconn(connection)
                if attempt == self.pool.max_size:
                    raise
