"""``python manage.py load_lastfm``: the whole HetRec Last.FM catalogue into the catalog and the knowledge graph.

Thin on purpose: the work is :func:`ingestion.loaders.lastfm.lastfm_load`; this command only picks the
data folder and the store, and turns a :class:`LeitmotifError` into a one-line ``CommandError``.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandParser

from core.management import LeitmotifCommand
from ingestion.loaders.lastfm import LastfmLoadReport, lastfm_load
from kg.stores import get_store
from kg.stores.base import UpsertResult

_CATALOG_ROWS = (
    ("users", "listeners", "users"),
    ("artists", "artists", "artists"),
    ("listening pairs", "listens", "listens"),
    ("tags", "tags", "tags"),
    ("tag assignments", "tag_assignments", "tag_assignments"),
    ("friendships", "friendships", "friendships"),
)


class Command(LeitmotifCommand):
    help = (
        "Load every HetRec Last.FM artist, listener, play count, tag and friendship into the catalog, and the "
        "KGCN Freebase graph plus every artist and its tags into the knowledge-graph store; the KGCN-linked "
        "artists (the offline protocols' population) are marked and compared with the published KGCN numbers. "
        "Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            help="Folder holding lastfm-kgcn/ and lastfm-hetrec/ (default: settings.LEITMOTIF_DATA_DIR).",
        )
        parser.add_argument(
            "--backend", default=None, help="Graph store name, e.g. sql or neo4j (default: settings.KG_BACKEND)."
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bars.")

    def handle(self, *args, **options) -> None:
        data_dir = Path(options["data_dir"] or settings.LEITMOTIF_DATA_DIR)
        backend = options["backend"] or settings.KG_BACKEND
        with get_store(backend) as store:
            report = lastfm_load(data_dir=data_dir, store=store, progress=not options["no_progress"])
        self._print_report(report, data_dir=data_dir)

    def _print_report(self, report: LastfmLoadReport, *, data_dir: Path) -> None:
        write = self.stdout.write
        counts = report.counts
        write(f"Loaded Last.FM from {data_dir} into the catalog and the graph store {report.backend}.")
        write(f"{'':28s}{'in data':>10s}{'created':>10s}{'updated':>10s}{'unchanged':>11s}")
        write("Catalog")
        for label, result_key, count_key in _CATALOG_ROWS:
            write(_row(f"  {label}", getattr(counts, count_key), report.catalog[result_key]))
        write("Graph")
        write(_row("  entities", sum(counts.entities_by_type.values()), report.graph.entities))
        for entity_type, number in counts.entities_by_type.items():
            write(f"    {entity_type:24s}{number:>10,}")
        write(_row("  relations", counts.kgcn_triples + counts.tag_relations, report.graph.relations))
        write(f"    {'KGCN triples':24s}{counts.kgcn_triples:>10,}  over {counts.kgcn_relation_types} relation types")
        write(f"    {'HAS_TAG':24s}{counts.tag_relations:>10,}")
        write(f"    {'KGCN entities':24s}{counts.kgcn_entities:>10,}  (items + anonymous Freebase entities)")
        if counts.skipped_tag_assignments:
            write(
                f"Skipped {counts.skipped_tag_assignments:,} tag assignments whose artist id is not in artists.dat "
                "(a known property of the HetRec data)."
            )
        kgcn = report.kgcn
        write(
            f"KGCN benchmark subset (artists with a KGCN entity; what training and the offline protocols use): "
            f"{kgcn.users:,} users, {kgcn.artists:,} artists, {kgcn.listens:,} listening pairs, "
            f"{kgcn.tags:,} tags, {kgcn.tag_relations:,} HAS_TAG edges."
        )
        checks = ", ".join(
            f"{name} {loaded:,}{'' if loaded == expected else f' (expected {expected:,})'}"
            for name, loaded, expected in report.kgcn_comparison()
        )
        if report.matches_kgcn:
            write(self.style.SUCCESS(f"Matches the published KGCN numbers: {checks}."))
        else:
            write(self.style.WARNING(f"Does NOT match the published KGCN numbers: {checks}."))
        write(f"Total: {report.created:,} created, {report.updated:,} updated.")


def _row(label: str, in_data: int, result: UpsertResult) -> str:
    return f"{label:28s}{in_data:>10,}{result.created:>10,}{result.updated:>10,}{result.unchanged:>11,}"
