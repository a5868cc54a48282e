"""Celery tasks: interfaces that call one engine job each."""

from celery import shared_task

from routing import engine


@shared_task(ignore_result=True)
def expire_wrapups() -> int:
    return engine.expire_wrapups()


@shared_task(ignore_result=True)
def flag_reply_alerts() -> int:
    return engine.flag_reply_alerts()


@shared_task(ignore_result=True)
def sweep_allocation() -> int:
    return engine.sweep_allocation()


@shared_task(ignore_result=True)
def expire_lost_connections() -> int:
    return engine.expire_lost_connections()


@shared_task(ignore_result=True)
def expire_call_offers() -> int:
    return engine.expire_call_offers()


@shared_task(ignore_result=True)
def expire_call_wrapups() -> int:
    return engine.expire_call_wrapups()


@shared_task(ignore_result=True)
def sweep_calls() -> int:
    return engine.sweep_calls()
