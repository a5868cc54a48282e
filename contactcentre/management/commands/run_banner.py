"""`manage.py run_banner --host H --port P`: where to go once the server has started, and who to log in as."""

from django.core.management.base import BaseCommand

from contactcentre.management.commands.seed_demo import demo_logins

PAGES = (
    ("Agent inbox", "/inbox/"),
    ("Wallboard", "/wallboard/"),
    ("Administration", "/admin/"),
    ("Demo web page", "/demo/"),
)


def browser_origin(*, host: str, port: int) -> str:
    """The address a browser on this machine uses for a server listening on host:port."""
    # A server listening on every interface is reached through the loopback one.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


class Command(BaseCommand):
    help = "Print the addresses of the product's pages and the demo logins."
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host: str, port: int, **options) -> None:
        origin = browser_origin(host=host, port=port)
        lines = ["", f"Contact centre at {origin}/", ""]
        lines += [f"  {title:<16}{origin}{path}" for title, path in PAGES]
        lines += ["", "Demo logins (username / password):"]
        lines += [
            (
                f"  {login['username']:<8}{login['password']:<18}{login['role']:<15}"
                + (f"then a code: authenticator key {login['totp_secret']}" if "totp_secret" in login else "")
            ).rstrip()
            for login in demo_logins()
        ]
        lines += [
            "",
            "The supervisor and the administrator sign in with a second step: add their key to an",
            "authenticator app, or print the codes of the moment with",
            "`.venv/bin/python manage.py demo_codes`.",
            "",
        ]
        self.stdout.write("\n".join(lines))
