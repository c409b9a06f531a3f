"""A catalogue of real works with sound: scores of the music21 corpus, rendered with FluidSynth.

What a load does (``python manage.py load_works``):

1. **Select** a deterministic, seeded sample of the music21 core corpus, stratified by composer and
   collection (:mod:`.corpus`): Bach chorales, Palestrina mass movements, Monteverdi madrigals, trecento
   polyphony, Josquin, string quartets of Haydn, Mozart, Beethoven and Schumann, single works of other
   composers, and tunes from folk collections (Essen, Ryan's Mammoth, O'Neill's, Aird's, Nottingham).
   Each stratum is shuffled with its own seed and the strata are interleaved round-robin, so
   ``--limit 24`` still spans every stratum.
2. **Read what each score says** (:mod:`.analysis`): title and composer from its metadata, the
   Humdrum reference records or the ABC header, else from the corpus path; key, metre and the parts'
   instruments from the notation. How each fact was found is kept in the Work entity's properties
   (``key_source``, ``form_source``), because several are inferences.
3. **Render** the first ``--seconds`` to audio (:mod:`audio.render`) into
   ``<LEITMOTIF_CACHE_DIR>/works/``, the file named by a hash of everything that determines it; what was
   read from a score is cached too, so a re-run parses and renders nothing (:mod:`.rendering`).
   ``--prune-audio`` deletes renders no catalogue row refers to any more.
4. **Write** the ``catalog.Work`` rows (:mod:`.catalog_rows`, compare-and-write, one transaction) and
   the graph (:mod:`.graph_records`) through :func:`kg.services.graph_sync`, which also removes this
   loader's own relations of the loaded works that the data no longer supports.
5. **Concepts** each score exercises (:mod:`.concepts`: arpeggio figures, scale runs, compound metre,
   modulation, imitation...), measured with music21 and cached in ``works/concepts/`` under their own
   :data:`CONCEPTS_VERSION`; written with the works as ``Work -EXERCISES_CONCEPT-> Concept`` (the
   detector's sentence in ``how``), only to concepts the graph already holds (``load_curriculum``).
6. **Link** each composer to the Last.FM artist listeners play them as (``Person -SAME_AS-> Artist``,
   :mod:`.lastfm_links`), from a reviewed table of Last.FM ids, when both entities are in the graph.

Where knowledge is data, not branches: composers, eras, forms, extra instruments and part names are
tables (:mod:`.tables`); the graph's names and the instrument vocabulary shared with the course loader
are :mod:`kg.schema`'s.

Decisions worth knowing:

* Folk tunes get no composer (their ABC ``C:`` field, when present, names a source or an arranger more
  often than a composer; it is kept as ``attributed_to``) and no era.
* Voices: a part whose name is a voice part (Soprano, Canto, Bassus, Triplum...) is a voice unless the
  score names a real instrument for it; many files carry placeholders ("Piano" on a madrigal's voices,
  "Instrument 1" on chorale voices). Voices are rendered with General MIDI "Choir Aahs".
* Parts whose instrument nobody names (an ABC melody) are scored for nothing and rendered on the piano.
* Key: the key the score states (MusicXML ``<mode>``, ABC ``K:``, Humdrum ``*G:mix``) is taken as is
  (``key_source="score"``); with only a key signature, the mode (major or relative minor) is chosen by
  the Krumhansl-Schmuckler key finder (``"signature+krumhansl"``); with neither, the key finder decides
  (``"krumhansl"``).
* Entities other loaders may already hold are merged, not overwritten: an existing Instrument is reused
  untouched; an existing Person, Era, Form, Key, Metre or Collection keeps its name and gains our
  aliases and properties. So a second run changes nothing, and the course loader's instruments are
  left as it wrote them.
* A score that fails to parse, has no notes in the excerpt or fails to render is skipped with its
  reason; nothing of it is written. A missing FluidSynth or SoundFont stops the run before any write.

Why the load itself (:func:`prepare_work`, :func:`works_load`) lives in this module: ``audio.works`` is the
one namespace callers know, and the steps the load calls (:func:`parse_score`, :func:`analyse_score`,
:data:`ANALYSIS_VERSION`, :func:`prepare_work`, :func:`select_works`...) are looked up here. Replacing
one on ``audio.works`` (a failing parser in a test, a bumped analysis version) changes the load just as
it did when the package was one module.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from tqdm.auto import tqdm

from audio import render as audio_render
from audio.works.analysis import (
    ANALYSIS_VERSION,
    abc_header,
    analyse_score,
    humdrum_header,
    instrument_slugs,
    part_facts,
    work_title,
)
from audio.works.catalog_rows import works_catalog_write
from audio.works.concepts import (
    CONCEPTS_VERSION,
    ConceptEvidence,
    ScoreConcepts,
    concepts_cache_path,
    detect_concepts,
    load_cached_concepts,
    save_cached_concepts,
)
from audio.works.corpus import (
    DEFAULT_SEED,
    MUSIC21_SOURCE_PREFIX,
    STRATA,
    STRATA_BY_KEY,
    Stratum,
    WorkRef,
    corpus_file,
    parse_score,
    select_works,
    selectable_names,
)
from audio.works.facts import (
    PartFacts,
    PreparedWork,
    SkipWork,
    WorkFacts,
    key_display_name,
    key_slug,
    metre_slug,
)
from audio.works.graph_records import (
    COMPOSER_TABLE_SOURCE,
    WORK_RELATIONS,
    GraphRecords,
    merge_with_existing,
    work_graph_records,
)
from audio.works.lastfm_links import (
    LASTFM_LINK_RELATIONS,
    LASTFM_LINK_SOURCE,
    ComposerLinksReport,
    composer_link_records,
    composer_links_sync,
    composer_person_id,
)
from audio.works.rendering import (
    WORKS_SUBDIR,
    analysis_key,
    analysis_path,
    load_cached_facts,
    load_render_sidecar,
    prune_rendered_audio,
    render_key,
    render_path,
    render_work,
    save_cached_facts,
    works_cache_dir,
)
from audio.works.tables import (
    COMPOSERS,
    DEFAULT_PROGRAM,
    ERAS,
    EXTRA_INSTRUMENT_MATCHER,
    EXTRA_INSTRUMENTS,
    FORM_MATCHER,
    FORMS,
    GM_PROGRAMS,
    LASTFM_ARTIST_IDS,
    MASS_SECTIONS,
    PART_NAME_SYNONYMS,
    PATH_FORMS,
    PATH_TITLES,
    PLACEHOLDER_INSTRUMENT_CLASSES,
    VOICE_INSTRUMENT_CLASSES,
    VOICE_PART_WORDS,
    VOICE_SLUG,
    Composer,
    Era,
)
from core.artifacts import sha256_file
from core.errors import ConfigurationError
from kg.schema import CONCEPT_PREFIX, EXERCISES_CONCEPT, concept_entity_id, work_entity_id
from kg.services import GraphUpsertReport, graph_sync, graph_validate
from kg.stores.base import KnowledgeGraphStore, UpsertResult

__all__ = [
    "ANALYSIS_VERSION",
    "CONCEPTS_VERSION",
    "COMPOSERS",
    "COMPOSER_TABLE_SOURCE",
    "DEFAULT_PROGRAM",
    "DEFAULT_SECONDS",
    "DEFAULT_SEED",
    "ERAS",
    "EXTRA_INSTRUMENTS",
    "EXTRA_INSTRUMENT_MATCHER",
    "FORMS",
    "FORM_MATCHER",
    "GM_PROGRAMS",
    "LASTFM_ARTIST_IDS",
    "LASTFM_LINK_RELATIONS",
    "LASTFM_LINK_SOURCE",
    "MASS_SECTIONS",
    "MUSIC21_SOURCE_PREFIX",
    "PART_NAME_SYNONYMS",
    "PATH_FORMS",
    "PATH_TITLES",
    "PLACEHOLDER_INSTRUMENT_CLASSES",
    "STRATA",
    "STRATA_BY_KEY",
    "ScoreConcepts",
    "VOICE_INSTRUMENT_CLASSES",
    "VOICE_PART_WORDS",
    "VOICE_SLUG",
    "WORKS_SUBDIR",
    "WORK_RELATIONS",
    "Composer",
    "ComposerLinksReport",
    "ConceptEvidence",
    "Era",
    "GraphRecords",
    "PartFacts",
    "PreparedWork",
    "SkipWork",
    "Stratum",
    "WorkFacts",
    "WorkRef",
    "WorksLoadReport",
    "abc_header",
    "analyse_score",
    "analysis_key",
    "composer_link_records",
    "composer_links_sync",
    "composer_person_id",
    "corpus_file",
    "detect_concepts",
    "score_concepts",
    "humdrum_header",
    "instrument_slugs",
    "key_display_name",
    "key_slug",
    "merge_with_existing",
    "metre_slug",
    "parse_score",
    "part_facts",
    "prepare_work",
    "prune_rendered_audio",
    "render_key",
    "select_works",
    "selectable_names",
    "work_graph_records",
    "work_title",
    "works_cache_dir",
    "works_catalog_write",
    "works_load",
]

DEFAULT_SECONDS = 30.0

logger = logging.getLogger(__name__)


def score_concepts(ref: WorkRef, facts: WorkFacts, *, analysis: str, score=None) -> ScoreConcepts:
    """The concepts the score exercises (:mod:`.concepts`), from their own cache when possible.

    Why a cache of its own: a better detector (a bumped :data:`CONCEPTS_VERSION`) re-reads the scores
    without re-analysing or re-rendering them.
    """
    path = concepts_cache_path(works_cache_dir(), analysis)
    found = load_cached_concepts(path)
    if found is None:
        try:
            found = detect_concepts(
                score if score is not None else parse_score(ref),
                key_tonic=facts.key_tonic,
                key_mode=facts.key_mode,
                key_source=facts.key_source,
                form=facts.form,
                era=facts.era,
            )
        except Exception:  # a detector's bug must not cost the catalogue a work: it is loaded without concepts
            logger.warning("Concept detection failed for %s; loaded without concept links.", ref.label, exc_info=True)
            return ScoreConcepts(evidence=(), notes=0, notes_per_beat=0.0)
        save_cached_concepts(path, found)
    return found


def prepare_work(ref: WorkRef, *, seconds: float, sample_rate: int, renderer: audio_render.Renderer) -> PreparedWork:
    """Facts, concepts and rendered audio of one work, from the caches when possible; :class:`SkipWork` if it cannot be."""
    path = corpus_file(ref.corpus_path)
    score_sha = sha256_file(path)
    key_of_analysis = analysis_key(ref, score_sha, version=ANALYSIS_VERSION)
    facts_path = analysis_path(key_of_analysis)
    facts = load_cached_facts(facts_path)
    score = None
    analysed = facts is None
    if facts is None:
        score = parse_score(ref)
        facts = analyse_score(ref, score)
        save_cached_facts(facts_path, facts)
    concepts_path = concepts_cache_path(works_cache_dir(), key_of_analysis)
    if score is None and not concepts_path.is_file():
        score = parse_score(ref)
    concepts = score_concepts(ref, facts, analysis=key_of_analysis, score=score)
    key = render_key(ref, score_sha, facts, seconds=seconds, sample_rate=sample_rate, renderer=renderer)
    relative = render_path(facts, key)
    absolute = Path(settings.LEITMOTIF_CACHE_DIR) / relative
    # The sidecar is written after the audio, so both present means the render completed.
    sidecar = absolute.with_suffix(".json")
    cached = load_render_sidecar(absolute, sidecar)
    if cached is not None:
        return PreparedWork(
            facts,
            str(relative),
            cached["sha256"],
            cached["duration_seconds"],
            cached["repeats"],
            analysed,
            False,
            concepts,
        )
    if score is None:
        score = parse_score(ref)
    record = render_work(
        score, facts, out_path=absolute, sidecar=sidecar, seconds=seconds, sample_rate=sample_rate, renderer=renderer
    )
    return PreparedWork(
        facts, str(relative), record["sha256"], record["duration_seconds"], record["repeats"], analysed, True, concepts
    )


@dataclass(frozen=True)
class WorksLoadReport:
    selected: int
    loaded: int
    analysed: int
    analysis_cached: int
    rendered: int
    render_cached: int
    pruned_files: int
    skipped: list[tuple[str, str]]
    catalog: UpsertResult
    graph: GraphUpsertReport
    removed_relations: int
    seconds_of_audio: float
    by_stratum: dict[str, int]
    by_form: dict[str, int]
    by_era: dict[str, int]
    entities_by_type: dict[str, int]
    relations_by_type: dict[str, int]
    backend: str
    elapsed_seconds: float
    #: Composers linked to their Last.FM artists (:mod:`.lastfm_links`), after the works were written.
    composer_links: ComposerLinksReport | None = None
    #: ``Work -EXERCISES_CONCEPT-> Concept`` links written, by concept id (:mod:`.concepts`).
    concept_links: dict[str, int] | None = None
    #: Concepts a score exercises that the graph has no entity for yet (load_curriculum, then load_works again).
    concepts_missing: int = 0

    @property
    def written(self) -> int:
        links = self.composer_links.written if self.composer_links is not None else 0
        return self.catalog.written + self.graph.written + self.removed_relations + links


def works_load(
    *,
    store: KnowledgeGraphStore,
    limit: int | None = None,
    composers: Sequence[str] | None = None,
    seconds: float = DEFAULT_SECONDS,
    seed: int = DEFAULT_SEED,
    progress: bool = True,
    prune_audio: bool = False,
    prepare: Callable[..., PreparedWork] | None = None,
) -> WorksLoadReport:
    """Select, analyse and render the works, then write the catalogue and the graph.

    Order and why: arguments, the graph store and FluidSynth are checked first, so a bad option, an
    unreachable store or a missing synthesiser fails before anything is rendered or written; each work
    is then prepared on its own (a failure skips only that work, with its reason); the catalogue is
    written in one transaction and the graph in idempotent batches; finally this loader's relations of
    the loaded works that the data no longer supports are removed (both by :func:`kg.services.graph_sync`,
    around the loaded works only: a work this run skipped keeps its links). With ``prune_audio``, rendered
    files no catalogue row refers to any more (earlier render versions or settings) are deleted.
    """
    started = time.perf_counter()
    if limit is not None and limit < 1:
        raise ConfigurationError(f"--limit must be at least 1, got {limit}.")
    max_seconds = float(settings.AUDIO_MAX_SECONDS)
    if not 1.0 <= seconds <= max_seconds:
        raise ConfigurationError(
            f"--seconds must be between 1 and {max_seconds:g} (settings.AUDIO_MAX_SECONDS), got {seconds:g}."
        )
    sample_rate = int(settings.AUDIO_SAMPLE_RATE)
    store.ping()
    renderer = audio_render.fluidsynth_renderer()
    refs = select_works(limit=limit, composers=composers, seed=seed)
    prepare = prepare or prepare_work
    prepared: list[PreparedWork] = []
    skipped: list[tuple[str, str]] = []
    with tqdm(refs, desc="Works", unit="work", disable=not progress) as bar:
        for ref in bar:
            bar.set_postfix_str(ref.label[-40:], refresh=False)
            try:
                work = prepare(ref, seconds=seconds, sample_rate=sample_rate, renderer=renderer)
            except SkipWork as exc:
                skipped.append((ref.label, str(exc)))
                continue
            except Exception as exc:
                skipped.append((ref.label, f"{type(exc).__name__}: {exc}".splitlines()[0][:300]))
                continue
            prepared.append(work)
    wanted_concepts = sorted({e.concept for w in prepared if w.concepts for e in w.concepts.evidence})
    present = store.get_entities([concept_entity_id(c) for c in wanted_concepts])
    known_concepts = frozenset(c for c in wanted_concepts if concept_entity_id(c) in present)
    records = work_graph_records(prepared, seconds=seconds, sample_rate=sample_rate, concepts=known_concepts)
    entities = merge_with_existing(records.entities, store=store)
    graph_validate(entities=entities, relations=records.relations)
    catalog = works_catalog_write(works=prepared)
    graph = graph_sync(
        store=store,
        entities=entities,
        relations=records.relations,
        owned=WORK_RELATIONS,
        around=[work_entity_id(work.facts.slug) for work in prepared],
        description="Works",
    )
    # Either load order works: whichever of the works and the Last.FM artists comes second makes the link.
    links = composer_links_sync(store=store)
    pruned = prune_rendered_audio() if prune_audio else 0
    return WorksLoadReport(
        selected=len(refs),
        loaded=len(prepared),
        analysed=sum(w.analysed for w in prepared),
        analysis_cached=sum(not w.analysed for w in prepared),
        rendered=sum(w.rendered for w in prepared),
        render_cached=sum(not w.rendered for w in prepared),
        pruned_files=pruned,
        skipped=skipped,
        catalog=catalog,
        graph=graph.upserted,
        removed_relations=graph.removed_relations,
        seconds_of_audio=round(sum(work.duration_seconds for work in prepared), 1),
        by_stratum=dict(Counter(work.facts.stratum for work in prepared).most_common()),
        by_form=dict(Counter(FORMS[w.facts.form].name if w.facts.form else "(none)" for w in prepared).most_common()),
        by_era=dict(Counter(ERAS[w.facts.era].name if w.facts.era else "(none)" for w in prepared).most_common()),
        entities_by_type=dict(sorted(Counter(e.type for e in records.entities).items())),
        relations_by_type=dict(sorted(Counter(r.type for r in records.relations).items())),
        backend=getattr(store, "registry_name", type(store).__name__),
        elapsed_seconds=round(time.perf_counter() - started, 1),
        composer_links=links,
        concept_links=dict(
            Counter(
                r.tail.removeprefix(CONCEPT_PREFIX) for r in records.relations if r.type == EXERCISES_CONCEPT
            ).most_common()
        ),
        concepts_missing=sum(
            1 for w in prepared if w.concepts for e in w.concepts.evidence if e.concept not in known_concepts
        ),
    )
