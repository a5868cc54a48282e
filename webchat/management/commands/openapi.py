"""Publish the chat API's OpenAPI document (webchat.openapi) as docs/openapi.json."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from webchat import openapi


def document_path() -> Path:
    return Path(settings.BASE_DIR) / "docs" / "openapi.json"


class Command(BaseCommand):
    help = "Write (--write) or check (--check) the chat API's OpenAPI document in docs/openapi.json."

    def add_arguments(self, parser) -> None:
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--write", action="store_true", help="write docs/openapi.json")
        mode.add_argument(
            "--check", action="store_true", help="fail if docs/openapi.json differs from the code"
        )

    def handle(self, *args, write: bool, check: bool, **options) -> None:
        path = document_path()
        wanted = openapi.document_text()
        if check:
            if not path.exists() or path.read_text() != wanted:
                raise CommandError(
                    "docs/openapi.json differs from webchat.openapi. Run `python manage.py openapi --write`."
                )
            self.stdout.write("docs/openapi.json matches webchat.openapi.")
            return
        path.write_text(wanted)
        self.stdout.write(f"Wrote {path}.")
