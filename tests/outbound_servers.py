"""Real servers on this machine's loopback: HTTP(S), standing in for a company's telephony system, and SMTP,
standing in for the mail server the product sends its emails through."""

import socket
import ssl
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class Endpoint:
    """An HTTP server in a thread that records each request and answers as told.

    `hang=True`: it reads each request and then answers nothing until `release()`, as a telephony system
    that took the connection and stopped.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        status: int = 200,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        hang: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.status, self.headers, self.body, self.hang = status, headers or {}, body, hang
        self.requests: list[dict] = []
        self.connections = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.changed = threading.Condition()
        self.released = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with endpoint.changed:
                    endpoint.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    endpoint.in_flight += 1
                    endpoint.most_in_flight = max(endpoint.most_in_flight, endpoint.in_flight)
                    endpoint.changed.notify_all()
                if endpoint.hang:
                    endpoint.released.wait(timeout=60)
                try:
                    self.send_response(endpoint.status)
                    for name, value in endpoint.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(endpoint.body)))
                    self.end_headers()
                    self.wfile.write(endpoint.body)
                finally:
                    with endpoint.changed:
                        endpoint.in_flight -= 1
                        endpoint.changed.notify_all()

            def log_message(self, format, *args) -> None:
                pass

        server_class = _Server6 if ":" in host else _Server
        self.server = server_class((host, port), Handler)
        counted_accept = self.server.get_request

        def get_request():
            accepted = counted_accept()
            with self.changed:
                self.connections += 1
                self.changed.notify_all()
            return accepted

        self.server.get_request = get_request
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.host = host
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, scheme: str = "http", host: str | None = None, path: str = "/commands") -> str:
        host = host or self.host
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}:{self.port}{path}"

    def wait_for_requests(self, count: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.requests) >= count, timeout=timeout)

    def release(self) -> None:
        self.released.set()

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


class MailServer:
    """An SMTP server (aiosmtpd) in a thread on loopback that keeps every message it is given: `messages`
    (parsed), each with the envelope's recipients in `envelopes`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self.host = host
        with socket.socket() as probe:  # aiosmtpd needs a port number: take a free one
            probe.bind((host, 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(self, hostname=host, port=self.port)
        self._controller.start()

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def stop(self) -> None:
        self._controller.stop()
