"""The customer's chat WebSocket (PROTOCOL.md section 2)."""

from channels.generic.websocket import AsyncWebsocketConsumer


class CustomerChatConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.close(code=4401)
