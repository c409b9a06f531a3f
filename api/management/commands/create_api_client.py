"""``python manage.py create_api_client NAME [--read-only | --ingest] [--rotate]``: an account with an API token.

Thin: the work is :func:`api.services.api_client_create`; this prints the token to use as
``Authorization: Token <key>``. A :class:`LeitmotifError` ends it as a ``CommandError`` carrying the
bare message, without the ``[E0xx]`` code (:class:`core.management.LeitmotifCommand`).
"""

from __future__ import annotations

from django.core.management.base import CommandParser

from api.services import api_client_create
from core.errors import LeitmotifError
from core.management import LeitmotifCommand


class Command(LeitmotifCommand):
    help = (
        "Create (or reuse) a user account with an API token. --read-only puts it in the 'api-readonly' group: "
        "it may GET anything, including any listener's history and recommendations, but never write."
    )

    def error_message(self, exc: LeitmotifError) -> str:
        # This command has always printed the bare message, without the ``[E0xx]`` code; kept for scripts reading it.
        return exc.message

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Username of the client account, e.g. reporting.")
        parser.add_argument(
            "--read-only", action="store_true", help="Only safe (GET) requests; may read every listener's data."
        )
        parser.add_argument(
            "--ingest",
            action="store_true",
            help="May submit documents and recordings for ingestion (POST /api/v1/ingestion/documents, /api/v1/audio).",
        )
        parser.add_argument("--rotate", action="store_true", help="Replace an existing token with a new one.")

    def handle(self, *args, **options) -> None:
        client = api_client_create(
            name=options["name"], read_only=options["read_only"], rotate=options["rotate"], ingest=options["ingest"]
        )
        what = "created" if client.created else "updated"
        mode = "read-only" if client.read_only else ("read-write, may ingest" if client.can_ingest else "read-write")
        self.stdout.write(f"API client {client.username!r} {what} ({mode}).")
        self.stdout.write(f"token={client.token}")
        self.stdout.write(f"Use it as the header   Authorization: Token {client.token}")
