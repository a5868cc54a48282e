from django.urls import path
from django.views.generic import RedirectView

from webchat import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="inbox"), name="home"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/status/", views.status, name="inbox_status"),
    path("inbox/presence/", views.presence, name="inbox_presence"),
    path("inbox/bell/", views.bell, name="inbox_bell"),
    path("inbox/list/", views.inbox_list, name="inbox_list"),
    path("inbox/queues/", views.queue_list, name="inbox_queues"),
    path("inbox/queues/<int:queue_id>/", views.queue_row, name="inbox_queue"),
    path("inbox/queues/<int:queue_id>/take/", views.take_next, name="inbox_take_next"),
    path("inbox/call/", views.call_banner, name="inbox_call"),
    path("inbox/calls/<int:call_id>/answer/", views.call_answer, name="inbox_call_answer"),
    path("inbox/calls/<int:call_id>/hang-up/", views.call_hang_up, name="inbox_call_hang_up"),
    path("inbox/calls/<int:call_id>/complete/", views.call_complete, name="inbox_call_complete"),
    path("inbox/<uuid:chat_id>/", views.open_chat, name="inbox_chat"),
    path("inbox/<uuid:chat_id>/transcript/", views.transcript, name="inbox_transcript"),
    path("inbox/<uuid:chat_id>/take/", views.take, name="inbox_take"),
    path("inbox/<uuid:chat_id>/activate/", views.activate, name="inbox_activate"),
    path("inbox/<uuid:chat_id>/park/", views.park, name="inbox_park"),
    path("inbox/<uuid:chat_id>/put-back/", views.put_back, name="inbox_put_back"),
    path("inbox/<uuid:chat_id>/transfer/", views.transfer, name="inbox_transfer"),
    path("inbox/<uuid:chat_id>/end/", views.end, name="inbox_end"),
    path("inbox/<uuid:chat_id>/messages/", views.send, name="inbox_send"),
    path("inbox/<uuid:chat_id>/template/", views.fill_template, name="inbox_template"),
    path("inbox/<uuid:chat_id>/details/", views.details, name="inbox_details"),
    path("inbox/<uuid:chat_id>/extend/", views.extend, name="inbox_extend"),
    path("inbox/<uuid:chat_id>/complete/", views.complete, name="inbox_complete"),
    path("inbox/<uuid:chat_id>/abusive/", views.flag_abusive, name="inbox_abusive"),
    path("inbox/<uuid:chat_id>/contact/", views.assign_contact, name="inbox_assign_contact"),
    path("inbox/<uuid:chat_id>/contact/find/", views.find_contact, name="inbox_find_contact"),
    path("inbox/<uuid:chat_id>/contact/new/", views.create_contact, name="inbox_create_contact"),
    path("wallboard/", views.wallboard, name="wallboard"),
    path("wallboard/board/", views.wallboard_board, name="wallboard_board"),
]
