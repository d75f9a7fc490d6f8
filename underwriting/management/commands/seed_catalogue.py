from django.core.management.base import BaseCommand

from underwriting.catalogue_loader import load_catalogue


class Command(BaseCommand):
    help = "Load the IP insurance products, riders, clause versions and rating tables (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--only", nargs="+", metavar="CODE", help="load only these products and their riders"
        )

    def handle(self, *args, **options):
        created = load_catalogue(only=options.get("only"))
        if created:
            self.stdout.write(self.style.SUCCESS(f"Catalogue: created {len(created)} objects."))
        else:
            self.stdout.write("Catalogue: already present, nothing changed.")
