"""The fault harness: a real deployment on this machine, real WebSocket clients, and faults on purpose.

`faults.deploy` starts and breaks the processes (two Daphne servers, a Redis of its own, a Celery worker and
beat, on a PostgreSQL database of its own); `faults.clients` are the customers and agents, who behave as
docs/chat-api.md tells a client to; `faults.checks` compares what every client saw with the database.
The scenarios are the tests in tests/faults, run by `make faults`.
"""
