from django.core.management.base import BaseCommand

from underwriting.catalogue_loader import load_catalogue


class Command(BaseCommand):
    help = "Load the IP insurance products, riders, clause versions and rating tables (idempotent)."

    def handle(self, *args, **options):
        created = load_catalogue()
        if created:
            self.stdout.write(self.style.SUCCESS(f"Catalogue: created {len(created)} objects."))
        else:
            self.stdout.write("Catalogue: already present, nothing changed.")
