"""Publish the realtime protocol's JSON Schemas (webchat.protocol) as files in docs/frames/."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from webchat import protocol


def published_files() -> dict[str, str]:
    """Every schema file's path under docs/frames/ and its text."""
    return {
        protocol.schema_path(key): json.dumps(protocol.schema_document(key), indent=2, ensure_ascii=False)
        + "\n"
        for key in protocol.SCHEMAS
    }


def frames_dir() -> Path:
    return Path(settings.BASE_DIR) / "docs" / "frames"


class Command(BaseCommand):
    help = "Write (--write) or check (--check) the WebSocket frames' JSON Schemas in docs/frames/."

    def add_arguments(self, parser) -> None:
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--write", action="store_true", help="write the files, removing stale ones")
        mode.add_argument("--check", action="store_true", help="fail if the files differ from the protocol")

    def handle(self, *args, write: bool, check: bool, **options) -> None:
        root = frames_dir()
        wanted = published_files()
        present = (
            {str(path.relative_to(root)) for path in root.rglob("*.schema.json")} if root.exists() else set()
        )
        if check:
            stale = sorted(present - wanted.keys())
            differing = sorted(
                path
                for path, text in wanted.items()
                if path not in present or (root / path).read_text() != text
            )
            if stale or differing:
                raise CommandError(
                    "docs/frames/ differs from webchat.protocol: "
                    + ", ".join([*(f"{path} (stale)" for path in stale), *differing])
                    + ". Run `python manage.py frame_schemas --write`."
                )
            self.stdout.write(f"{len(wanted)} frame schemas match webchat.protocol.")
            return
        for path in present - wanted.keys():
            (root / path).unlink()
        for path, text in wanted.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self.stdout.write(f"Wrote {len(wanted)} frame schemas to {root}.")
