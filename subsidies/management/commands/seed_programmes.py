from django.core.management.base import BaseCommand

from subsidies.seed import seed_programmes


class Command(BaseCommand):
    help = "Create the premium-subsidy programmes of programmes.yaml with this year's budgets."

    def handle(self, *args, **options):
        created = seed_programmes()
        if options["verbosity"] > 0:
            self.stdout.write(f"Subsidy programmes: created {len(created)} objects.")
