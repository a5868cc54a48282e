"""The raw `websockets` baseline: an asyncio server with no framework, no channel layer, no database.

Paths:
- `/relay/<room>/<side>/` (side `a` or `b`): each text frame is forwarded, in process, to the other side of
  the room. This is the floor for a message from one connection to another on this machine.
- anything else: each text frame is echoed back on the same connection.

Run: `python -m bench.baselines.echo_server --port 8101` (the harness pins it to the server core).
"""

import argparse
import asyncio
import contextlib
import signal

from websockets.asyncio.server import ServerConnection, serve

rooms: dict[tuple[str, str], ServerConnection] = {}


async def handle(ws: ServerConnection) -> None:
    path = ws.request.path if ws.request is not None else "/"
    parts = [part for part in path.split("/") if part]
    if len(parts) == 3 and parts[0] == "relay" and parts[2] in ("a", "b"):
        room, side = parts[1], parts[2]
        peer_side = "b" if side == "a" else "a"
        rooms[(room, side)] = ws
        try:
            async for frame in ws:
                peer = rooms.get((room, peer_side))
                if peer is not None:
                    with contextlib.suppress(Exception):
                        await peer.send(frame)
        finally:
            if rooms.get((room, side)) is ws:
                del rooms[(room, side)]
        return
    async for frame in ws:
        await ws.send(frame)


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        handle,
        "127.0.0.1",
        port,
        compression=None,
        backlog=4096,
        max_queue=None,
        ping_interval=20,
        ping_timeout=30,
    ):
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
