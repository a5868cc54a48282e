"""The sockets' database threads in a process forked after they were used (a server started by a forking
supervisor, the browser tests' live server): the child's calls run on threads of its own."""

import asyncio
import os

import pytest

from runtime.database import in_database


@in_database
def answer() -> int:
    return 42


# The database threads close their obsolete connections around each call, which counts as database access.
@pytest.mark.django_db
def test_a_call_decorated_before_a_fork_runs_in_the_forked_child():
    # The parent has used its threads, so their pool counts idle workers that a child would not have.
    assert asyncio.run(answer()) == 42
    pid = os.fork()
    if pid == 0:  # the child: a call that never runs would hang until the timeout below
        try:
            result = asyncio.run(asyncio.wait_for(answer(), timeout=20))
            os._exit(0 if result == 42 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
