from django.core.management import call_command
from django.core.management.base import BaseCommand

from portal.demo import login_table, seed_demo


class Command(BaseCommand):
    help = "Create demo firms, users for every role, IP assets and authorities (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Do not print the logins.")

    def handle(self, *args, quiet=False, **options):
        result = seed_demo()
        # Subsidy programmes belong to the subsidies app, which the shared kernel does not import.
        call_command("seed_programmes", verbosity=0)
        created = result["created"]
        if created:
            self.stdout.write(self.style.SUCCESS(f"Demo data: created {len(created)} objects."))
        else:
            self.stdout.write("Demo data: already present, nothing changed.")
        if not quiet:
            self.stdout.write("Demo logins:\n" + login_table(result["password"]))
