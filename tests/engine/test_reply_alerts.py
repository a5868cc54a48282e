from routing import engine
from tests.engine.conftest import drive_to, reload


def test_a_customer_waiting_past_the_queues_limit_is_flagged(db, clock, manual_queue, agent):
    manual_queue.reply_alert_seconds = 45
    manual_queue.save()
    chat = drive_to("active", manual_queue, agent)
    engine.message_post_customer(chat_id=chat.pk, client_id="m1", text="Hello?")
    clock.shift(10)
    engine.message_post_customer(chat_id=chat.pk, client_id="m2", text="Anyone?")

    clock.shift(34)
    assert engine.flag_reply_alerts() == 0
    clock.shift(2)
    assert engine.flag_reply_alerts() == 1
    assert reload(chat).reply_overdue


def test_the_agents_reply_clears_the_wait_and_the_alert(db, clock, manual_queue, agent):
    manual_queue.reply_alert_seconds = 5
    manual_queue.save()
    chat = drive_to("active", manual_queue, agent)
    engine.message_post_customer(chat_id=chat.pk, client_id="m1", text="Hello?")
    clock.shift(10)
    engine.flag_reply_alerts()

    engine.message_post_agent(agent=agent, chat_id=chat.pk, client_id="a1", text="Hi!")

    chat = reload(chat)
    assert (chat.customer_waiting_since, chat.reply_overdue) == (None, False)


def test_the_wait_counts_from_the_oldest_unanswered_message(db, clock, manual_queue, agent):
    chat = drive_to("active", manual_queue, agent)
    engine.message_post_customer(chat_id=chat.pk, client_id="m1", text="one")
    since = reload(chat).customer_waiting_since
    clock.shift(20)
    engine.message_post_customer(chat_id=chat.pk, client_id="m2", text="two")

    assert reload(chat).customer_waiting_since == since
