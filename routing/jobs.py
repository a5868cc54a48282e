"""The periodic jobs: run by Celery beat in production and by the in-process scheduler when embedded.

Each job handles each of its items (a chat, a call, an agent, a queue) in its own transaction and goes on
past one that fails, logging it (routing/engine/rules.py, `_each`): one bad row never stops a job for the
others, least of all another company's. A new job does the same, and gets its case in
tests/security/test_periodic_jobs_isolation.py.
"""

from crm import services as crm_services
from reports import alerts as reports_alerts
from routing import engine

PERIODIC_JOBS = [
    engine.expire_wrapups,
    engine.expire_call_offers,
    engine.expire_call_wrapups,
    engine.flag_reply_alerts,
    engine.sweep_allocation,
    engine.sweep_calls,
    engine.expire_lost_connections,
    crm_services.transcripts_expire,
    reports_alerts.alert_service_levels,
]
