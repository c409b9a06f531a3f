import os
from pathlib import Path

from django.conf import settings

from accounts.services import demo_curator_ensure
from core.management import LeitmotifCommand


class Command(LeitmotifCommand):
    help = "Create or refresh the demo curator login (a staff user in the 'curators' group) and print it."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DEMO_CURATOR_USERNAME", "curator"))

    def handle(self, *args, username: str, **options):
        login = demo_curator_ensure(
            username=username,
            password=os.environ.get("DEMO_CURATOR_PASSWORD") or None,
            secret_file=Path(settings.BASE_DIR) / "var" / "demo_curator_password",
        )
        verb = "Created" if login.created else "Refreshed"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} curator login: username={login.username} password={login.password}")
        )
