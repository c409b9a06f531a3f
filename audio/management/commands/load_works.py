"""``python manage.py load_works``: scores of the music21 corpus, rendered to audio, into the catalog and the graph.

Thin on purpose: the work is :func:`audio.works.works_load`; this command parses the
options, picks the store, turns a :class:`LeitmotifError` into a one-line ``CommandError`` and prints
the summary. Each loaded work is also linked to the curriculum concepts its score exercises
(``Work -EXERCISES_CONCEPT-> Concept``, :mod:`audio.works.concepts`), for concepts already in the graph:
run it after ``load_curriculum``, or run it again afterwards (a re-run reads the caches). Run it after ``load_courses`` if you want works and courses to share instrument entities
(either order works; the second loader reuses what the first made). Each run also links the loaded
composers to their Last.FM artists when those are in the graph; ``--link-composers-only`` does just that
(no rendering, no FluidSynth), for when ``load_lastfm`` ran after the works.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandParser

from audio.works import (
    DEFAULT_SECONDS,
    DEFAULT_SEED,
    ComposerLinksReport,
    WorksLoadReport,
    composer_links_sync,
    works_load,
)
from core.management import LeitmotifCommand
from kg.stores import get_store
from kg.stores.base import UpsertResult


class Command(LeitmotifCommand):
    help = (
        "Load a stratified, seeded selection of music21 corpus works (chorales, masses, madrigals, quartets, "
        "folk tunes...), render their first seconds with FluidSynth into LEITMOTIF_CACHE_DIR/works/ and write "
        "catalog.Work rows and Work/Person/Era/Form/Key/Metre/Instrument/Collection entities. Idempotent: a "
        "re-run parses, renders and writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            help="Load only the first N works of the selection (e.g. 24 for the demo).",
        )
        parser.add_argument(
            "--composers",
            default=None,
            help="Comma-separated strata, composers or corpus directories, e.g. 'bach,mozart,essen' (default: all).",
        )
        parser.add_argument(
            "--seconds",
            type=float,
            default=DEFAULT_SECONDS,
            help=f"Seconds rendered per work (default {DEFAULT_SECONDS:g}).",
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"Selection seed (default {DEFAULT_SEED}).")
        parser.add_argument(
            "--backend", default=None, help="Graph store name, e.g. sql or neo4j (default: settings.KG_BACKEND)."
        )
        parser.add_argument(
            "--prune-audio",
            action="store_true",
            help="Afterwards delete rendered files under LEITMOTIF_CACHE_DIR/works/ that no catalogue work refers to.",
        )
        parser.add_argument(
            "--link-composers-only",
            action="store_true",
            help="Only link composers already in the graph to their Last.FM artists (Person -SAME_AS-> Artist); "
            "renders and loads no works. Run it after load_lastfm when the works were loaded first.",
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, **options) -> None:
        composers = [name for name in (options["composers"] or "").split(",") if name.strip()] or None
        backend = options["backend"] or settings.KG_BACKEND
        with get_store(backend) as store:
            if options["link_composers_only"]:
                store.ping()
                self._print_links(composer_links_sync(store=store))
                return
            report = works_load(
                store=store,
                limit=options["limit"],
                composers=composers,
                seconds=options["seconds"],
                seed=options["seed"],
                progress=not options["no_progress"],
                prune_audio=options["prune_audio"],
            )
        self._print_report(report)

    def _print_report(self, report: WorksLoadReport) -> None:
        write = self.stdout.write
        write(
            f"Works: {report.selected} selected, {report.loaded} loaded, {len(report.skipped)} skipped "
            f"(graph store {report.backend}, audio in {settings.LEITMOTIF_CACHE_DIR}/works/)."
        )
        write(
            f"Scores analysed {report.analysed}, read from the analysis cache {report.analysis_cached}; "
            f"audio rendered {report.rendered}, reused from the cache {report.render_cached} "
            f"({report.seconds_of_audio:,.0f} s of audio)."
        )
        write(f"{'':24s}{'created':>10s}{'updated':>10s}{'unchanged':>11s}")
        write(_row("Catalog works", report.catalog))
        write(_row("Graph entities", report.graph.entities))
        write(_row("Graph relations", report.graph.relations))
        if report.pruned_files:
            write(f"Deleted {report.pruned_files} rendered files no catalogue work refers to.")
        if report.removed_relations:
            write(f"Removed {report.removed_relations} stale relations this loader had written earlier.")
        write("By collection: " + _top(report.by_stratum))
        write("By era: " + _top(report.by_era))
        write("By form: " + _top(report.by_form))
        write("Entities: " + _top(report.entities_by_type) + ". Relations: " + _top(report.relations_by_type) + ".")
        if report.concept_links is not None:
            write(
                "Works exercising curriculum concepts (EXERCISES_CONCEPT, measured on the scores): "
                + _top(report.concept_links, limit=30)
                + "."
            )
        if report.concepts_missing:
            write(
                f"{report.concepts_missing} concept links not written: their concepts are not in the graph yet "
                "(load_curriculum, then load_works again)."
            )
        if report.composer_links is not None:
            self._print_links(report.composer_links)
        for label, reason in report.skipped:
            write(f"Skipped {label}: {reason}")
        write(f"Done in {report.elapsed_seconds:.1f} s.")

    def _print_links(self, links: ComposerLinksReport) -> None:
        result = links.sync.upserted.relations
        self.stdout.write(
            f"Composers linked to their Last.FM artists: {len(links.linked)} "
            f"({result.created} created, {result.updated} updated, {result.unchanged} unchanged"
            + (f", {links.sync.removed_relations} stale removed" if links.sync.removed_relations else "")
            + f"); not linked yet: {len(links.missing_artists)} without their Last.FM artist in the graph "
            f"(load_lastfm, then load_works --link-composers-only), {len(links.missing_composers)} without works loaded."
        )


def _row(label: str, result: UpsertResult) -> str:
    return f"{label:24s}{result.created:>10,}{result.updated:>10,}{result.unchanged:>11,}"


def _top(counter: dict[str, int], limit: int = 16) -> str:
    items = list(counter.items())
    shown = ", ".join(f"{name} {number}" for name, number in items[:limit])
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return (shown + more) if items else "none"
