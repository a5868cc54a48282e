"""Rebuild the reports' rollup from the interactions: after a bulk load, a restore, or to repair it."""

import time

from django.core.management.base import BaseCommand, CommandError

from contactcentre.models import Company
from crm.services import report_rollup_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the reports' rollup (per queue and hour, per classification and day, per agent and day) "
        "from the interactions, of one company or of all. Closes wait while it runs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--company", help="the company's slug (default: every company)")

    def handle(self, *args, company=None, **options):
        company_id = None
        if company:
            company_id = Company.objects.filter(slug=company).values_list("pk", flat=True).first()
            if company_id is None:
                raise CommandError(f"No company with the slug {company!r}.")
        started = time.monotonic()
        written = report_rollup_rebuild(company_id=company_id)
        rows = (
            ", ".join(f"{table} {count:,}" for table, count in written.items()) or "nothing (not PostgreSQL)"
        )
        self.stdout.write(f"Report rollup rebuilt in {time.monotonic() - started:.1f}s: {rows}.")
