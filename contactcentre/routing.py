"""WebSocket routes: the customer's chat socket and the agent's socket.

Every route checks the handshake's Origin: the customer's socket against its queue's allowed web sites (in
the consumer, which knows the queue), the agent's against the product's own origins (contactcentre.origins).
"""

from django.urls import path

from contactcentre.origins import OwnOriginOnly
from webchat.agent_socket import AgentConsumer
from webchat.customer_socket import CustomerChatConsumer

websocket_urlpatterns = [
    path("ws/webchat/<uuid:chat_id>/", CustomerChatConsumer.as_asgi()),
    path("ws/agent/", OwnOriginOnly(AgentConsumer.as_asgi())),
]
