"""The public chat API, mounted at /api/webchat/v1/ (PROTOCOL.md section 1)."""

from django.urls import path

from webchat import api

urlpatterns = [
    path("openapi.json", api.openapi_document, name="webchat-api-openapi"),
    path("chats", api.chats, name="webchat-api-chats"),
    path("chats/<str:chat_id>/messages", api.messages, name="webchat-api-messages"),
    path("chats/<str:chat_id>/end", api.end, name="webchat-api-end"),
]
