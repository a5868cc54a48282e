"""`manage.py reset_two_factor USERNAME`: take away a login's authenticator and recovery codes, for a user
who lost both. One whose role requires two-factor sign-in sets up a new app at their next sign-in."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from contactcentre import two_factor


class Command(BaseCommand):
    help = "Remove a login's authenticator app and recovery codes (they set up a new one when they sign in)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")

    def handle(self, *args, username: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No login named {username!r}.")
        two_factor.turn_off(user)
        required = two_factor.requirement(user).required
        then = "sets up a new authenticator app" if required else "signs in with the password alone"
        self.stdout.write(f"{username} has no authenticator or recovery codes now, and {then} from now on.")
