"""The periodic jobs: run by Celery beat in production and by the in-process scheduler when embedded."""

from crm import services as crm_services
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
]
