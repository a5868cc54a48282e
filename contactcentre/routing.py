"""WebSocket routes: the customer's chat socket and the agent's socket."""

from django.urls import path

from webchat.agent_socket import AgentConsumer
from webchat.customer_socket import CustomerChatConsumer

websocket_urlpatterns = [
    path("ws/webchat/<uuid:chat_id>/", CustomerChatConsumer.as_asgi()),
    path("ws/agent/", AgentConsumer.as_asgi()),
]
