"""The works catalogue: selection, what is read from a score, rendering, catalog + graph writes, the command.

Real scores from the music21 corpus (a few short Bach chorales, 4 s each so the file runs quickly) and the
real FluidSynth + FluidR3_GM; every test gets its own LEITMOTIF_CACHE_DIR (tests/conftest.py), so each
starts with nothing rendered.
"""

from __future__ import annotations

import io
import shutil
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from audio import render as audio_render
from audio import works
from audio.features import load_audio
from catalog.models import Work
from core.artifacts import sha256_file
from core.errors import AudioRenderError, ConfigurationError
from kg.schema import INSTRUMENTS, instrument_entity_id, term_aliases
from kg.services import graph_upsert
from kg.stores.base import EntityRecord, RelationRecord

SECONDS = 4.0
BACH = "leitmotif:person:johann-sebastian-bach"

pytestmark = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not Path(audio_render.DEFAULT_SOUNDFONT).is_file(),
    reason="FluidSynth or FluidR3_GM missing: run scripts/install_system_deps.sh",
)


def load(store, limit: int = 3, **kwargs):
    return works.works_load(store=store, limit=limit, composers=["bach"], seconds=SECONDS, progress=False, **kwargs)


def count_calls(monkeypatch, module, name: str) -> list:
    calls: list = []
    real = getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(args[0] if args else kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


# --- pure parts ----------------------------------------------------------------------------------


def test_selection_is_stratified_deterministic_and_seeded():
    first = works.select_works(limit=len(works.STRATA))
    assert first == works.select_works(limit=len(works.STRATA))
    assert [ref.stratum for ref in first] == [s.key for s in works.STRATA]  # round-robin: one per stratum first
    assert works.select_works(limit=40, seed=1) != works.select_works(limit=40, seed=0)
    everything = works.select_works()
    assert 250 <= len(everything) <= 400 and len({ref.slug for ref in everything}) == len(everything)
    quotas = {s.key: s.quota for s in works.STRATA}
    for stratum, count in Counter(ref.stratum for ref in everything).items():
        assert count <= quotas[stratum]


def test_composer_filter_and_unknown_names():
    refs = works.select_works(composers=["mozart", "landini"])
    assert {ref.stratum for ref in refs} == {"mozart", "trecento"}
    assert all(ref.corpus_path.startswith(("mozart/", "trecento/PMFC_04")) for ref in refs)
    assert {ref.corpus_path.split("/")[0] for ref in works.select_works(composers=["chopin"])} == {"chopin"}
    with pytest.raises(ConfigurationError, match="unknown composer or collection wagner; choose from"):
        works.select_works(composers=["bach", "wagner"])


def test_slugs_keys_and_instrument_names():
    assert works.WorkRef("bach/bwv1.6.mxl", None, "bach").slug == "bach-bwv1-6"
    assert works.WorkRef("bach/bwv16.mxl", None, "bach").slug == "bach-bwv16"
    assert works.WorkRef("essenFolksong/ballad10.abc", 3, "essen").slug == "essenfolksong-ballad10-3"
    assert works.key_slug("B-", "major") == "b-flat-major" and works.key_display_name("F#", "minor") == "F♯ minor"
    assert works.instrument_slugs("Violin I") == ("violin",)
    assert works.instrument_slugs("Violoncello.") == ("cello",)
    assert works.instrument_slugs("Bass Clarinet") == ("bass-clarinet",)
    assert works.instrument_slugs("Violone e Organo") == ("violone", "organ")
    assert works.instrument_slugs("Klarinette") == ("clarinet",)
    assert works.instrument_slugs("Horn 2") == ("french-horn",)


def test_voices_and_placeholders_in_real_scores():
    madrigal = works.parse_score(works.WorkRef("monteverdi/madrigal.3.1.mxl", None, "monteverdi"))
    parts = [works.part_facts(part) for part in madrigal.parts]
    # The file names "Piano" for every voice: the voice part names win over the placeholder.
    assert [p.name for p in parts] == ["Canto", "Quinto", "Alto", "Tenor", "Basso"]
    assert all(p.instruments == ("voice",) and p.program == 52 for p in parts)
    quartet = works.parse_score(works.WorkRef("mozart/k155/movement1.mxl", None, "mozart"))
    assert [works.part_facts(p).instruments for p in quartet.parts] == [
        ("violin",),
        ("violin",),
        ("viola",),
        ("cello",),
    ]


def test_humdrum_key_and_title_are_read_from_the_file():
    ref = works.WorkRef("palestrina/Agnus_01.krn", None, "palestrina")
    facts = works.analyse_score(ref, works.parse_score(ref))
    assert facts.title == "Missa De Beata Marie Virginis (III): Agnus"
    assert (facts.key_name, facts.key_source, facts.form, facts.era) == ("G mixolydian", "score", "mass", "renaissance")
    assert facts.metre == "4/2" and facts.extra["mass_section"] == "Agnus Dei"


def test_badly_formed_repeats_and_a_tempo_in_words_still_render(tmp_path):
    renderer = audio_render.fluidsynth_renderer()
    mazurka = works.parse_score(works.WorkRef("chopin/mazurka06-2.krn", None, "single-works"))
    performed, how = audio_render.as_performed(mazurka)
    assert how.startswith(
        "not expanded: cannot expand Stream"
    )  # played as written, the score's repeat marks are broken
    result = audio_render.render_score(
        mazurka, programs=[0, 0], renderer=renderer, out_path=tmp_path / "m.flac", seconds=3, sample_rate=22050
    )
    assert result.duration_seconds == pytest.approx(3.0) and result.repeats == how
    canon = works.parse_score(works.WorkRef("webern/webern_dormi_jesu_op_16_no_2.mxl", None, "single-works"))
    assert audio_render.quarter_length_at(canon, 3.0) == pytest.approx(6.0)  # words only: crotchet = 120
    assert load_audio(
        audio_render.render_score(
            canon, programs=[52, 71], renderer=renderer, out_path=tmp_path / "c.flac", seconds=3, sample_rate=22050
        ).path
    ).duration_seconds == pytest.approx(3.0, abs=0.01)


# --- loading ---------------------------------------------------------------------------------------


def test_load_three_chorales(sql_store):
    report = load(sql_store)
    assert (report.selected, report.loaded, report.skipped) == (3, 3, [])
    assert report.rendered == 3 and report.analysed == 3
    rows = list(Work.objects.order_by("slug"))
    assert len(rows) == 3
    for row in rows:
        assert row.composer_name == "Johann Sebastian Bach" and row.era == "Baroque" and row.form == "Chorale"
        assert row.collection == "J. S. Bach: four-part chorales" and row.corpus_path.startswith("bach/bwv")
        assert row.instrumentation[0] == "voice" and row.voices[:4] == ["Soprano", "Alto", "Tenor", "Bass"]
        assert row.key and row.metre and row.entity_id == f"leitmotif:work:{row.slug}"
        audio = Path(settings.LEITMOTIF_CACHE_DIR) / row.audio_path
        assert row.audio_path.startswith("works/") and audio.suffix == ".flac"
        assert sha256_file(audio) == row.audio_sha256
        clip = load_audio(audio)  # the rendering is real, audible, mono at the analysis rate
        assert clip.source_sample_rate == settings.AUDIO_SAMPLE_RATE and clip.source_channels == 1
        assert (
            clip.duration_seconds == pytest.approx(row.duration_seconds, abs=0.01) and row.duration_seconds <= SECONDS
        )

        entity = sql_store.get_entity(row.entity_id)
        assert entity.type == "Work" and entity.name == row.title
        assert entity.properties["key_source"] == "score" and entity.properties["audio_sha256"] == row.audio_sha256
        assert entity.properties["repeats"] == "expanded" and entity.properties["rendered_seconds"] == SECONDS
        out = {(n.relation.type, n.entity.id): n.relation for n in sql_store.neighbours(row.entity_id, direction="out")}
        source = f"music21:{row.corpus_path}"
        expected = {
            ("IN_ERA", "leitmotif:era:baroque"),
            ("HAS_FORM", "leitmotif:form:chorale"),
            ("SCORED_FOR", "leitmotif:instrument:voice"),
            ("IN_COLLECTION", "leitmotif:collection:bach-chorales"),
            ("IN_METRE", f"leitmotif:metre:{row.metre.replace('/', '-')}"),
        }
        assert expected <= set(out)
        assert all(relation.source == source for relation in out.values())
        in_key = [r for (t, _), r in out.items() if t == "IN_KEY"]
        assert len(in_key) == 1 and in_key[0].confidence == 1.0
        composed = sql_store.get_relation(BACH, "COMPOSED", row.entity_id)
        assert composed is not None and composed.source == source
    person = sql_store.get_entity(BACH)
    assert person.type == "Person" and person.properties["born"] == 1685 and person.properties["died"] == 1750
    lived = sql_store.get_relation(BACH, "LIVED_IN_ERA", "leitmotif:era:baroque")
    assert lived is not None and lived.source == works.COMPOSER_TABLE_SOURCE
    era = sql_store.get_entity("leitmotif:era:baroque")
    assert (era.type, era.properties["start_year"], era.properties["end_year"]) == ("Era", 1600, 1750)
    assert sql_store.get_entity("leitmotif:instrument:voice").type == "Instrument"


def test_second_run_parses_renders_and_writes_nothing(sql_store, monkeypatch):
    first = load(sql_store)
    assert first.written > 0
    parses = count_calls(monkeypatch, works, "parse_score")
    renders = count_calls(monkeypatch, audio_render, "render_midi")
    second = load(sql_store)
    assert (parses, renders) == ([], [])
    assert (second.analysed, second.rendered, second.analysis_cached, second.render_cached) == (0, 0, 3, 3)
    assert second.written == 0 and second.catalog.unchanged == 3
    assert second.graph.entities.created == second.graph.entities.updated == 0


def test_a_new_analysis_version_re_reads_scores_but_does_not_re_render(sql_store, monkeypatch):
    load(sql_store, limit=1)
    monkeypatch.setattr(works, "ANALYSIS_VERSION", works.ANALYSIS_VERSION + 1)
    again = load(sql_store, limit=1)
    assert (again.analysed, again.rendered, again.written) == (1, 0, 0)


def test_stale_relations_are_removed_and_unreferenced_audio_pruned(sql_store):
    first = load(sql_store, limit=1)
    row = Work.objects.get()
    # One relation as an earlier, wrong analysis would have left it, one a curator added.
    motet = EntityRecord(id="leitmotif:form:motet", type="Form", name="Motet", properties={"slug": "motet"})
    hymn = EntityRecord(id="leitmotif:form:hymn", type="Form", name="Hymn", properties={"slug": "hymn"})
    graph_upsert(
        store=sql_store,
        entities=[motet, hymn],
        relations=[
            RelationRecord(head=row.entity_id, type="HAS_FORM", tail=motet.id, source=f"music21:{row.corpus_path}"),
            RelationRecord(head=row.entity_id, type="HAS_FORM", tail=hymn.id, source="curator"),
        ],
    )
    assert first.written > 0
    shorter = works.works_load(
        store=sql_store, limit=1, composers=["bach"], seconds=3, progress=False, prune_audio=True
    )
    assert shorter.removed_relations == 1 and sql_store.get_relation(row.entity_id, "HAS_FORM", motet.id) is None
    assert sql_store.get_relation(row.entity_id, "HAS_FORM", hymn.id).source == "curator"
    assert shorter.rendered == 1 and shorter.pruned_files == 1
    flacs = list((Path(settings.LEITMOTIF_CACHE_DIR) / "works").glob("*.flac"))
    assert [f.name for f in flacs] == [Path(Work.objects.get().audio_path).name]


def test_existing_instrument_from_the_course_loader_is_reused_untouched(sql_store):
    term = INSTRUMENTS["voice"]
    seeded = EntityRecord(
        id=instrument_entity_id("voice"),
        type="Instrument",
        name=term.name,
        aliases=term_aliases(term),
        properties={"slug": "voice", "added_by": "courses"},
    )
    graph_upsert(store=sql_store, entities=[seeded])
    load(sql_store, limit=1)
    kept = sql_store.get_entity(seeded.id)
    assert kept.properties == {"slug": "voice", "added_by": "courses"}
    assert len(sql_store.neighbours(seeded.id, direction="in", relation_types=["SCORED_FOR"])) == 1


def test_a_score_that_fails_is_skipped_and_nothing_of_it_is_written(sql_store, monkeypatch):
    refs = works.select_works(limit=3, composers=["bach"])
    broken = refs[1]
    real_parse = works.parse_score

    def parse(ref):
        if ref == broken:
            raise ValueError("bad measure 3")
        return real_parse(ref)

    monkeypatch.setattr(works, "parse_score", parse)
    report = load(sql_store)
    assert report.loaded == 2 and report.skipped == [(broken.label, "ValueError: bad measure 3")]
    assert not Work.objects.filter(slug=broken.slug).exists()
    assert sql_store.get_entity(works.work_entity_id(broken.slug)) is None
    assert not list((Path(settings.LEITMOTIF_CACHE_DIR) / "works").glob(f"{broken.slug}-*"))


def test_a_render_failure_is_skipped_with_its_reason(sql_store, monkeypatch):
    calls = {"n": 0}
    real = audio_render.render_midi

    def failing_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise AudioRenderError("FluidSynth failed (exit code 1): simulated")
        return real(*args, **kwargs)

    monkeypatch.setattr(audio_render, "render_midi", failing_once)
    report = load(sql_store, limit=2)
    assert report.loaded == 1 and "simulated" in report.skipped[0][1]
    assert Work.objects.count() == 1


def test_missing_fluidsynth_is_a_clear_error_and_writes_nothing(sql_store, settings):
    settings.FLUIDSYNTH_BINARY = "/nonexistent/bin/fluidsynth"
    with pytest.raises(
        AudioRenderError, match="was not found; install FluidSynth.*apt-get install fluidsynth fluid-soundfont-gm"
    ) as caught:
        load(sql_store)
    assert caught.value.code == "E041"
    assert Work.objects.count() == 0 and sql_store.stats().entities == 0


def test_missing_soundfont_is_a_clear_error(sql_store, settings):
    settings.FLUIDSYNTH_SOUNDFONT = "/nonexistent/FluidR3_GM.sf2"
    with pytest.raises(AudioRenderError, match="SoundFont /nonexistent/FluidR3_GM.sf2 does not exist"):
        load(sql_store)


def test_bad_options(sql_store):
    with pytest.raises(ConfigurationError, match="--seconds"):
        works.works_load(store=sql_store, seconds=0.1, progress=False)
    with pytest.raises(ConfigurationError, match="--limit"):
        works.works_load(store=sql_store, limit=0, progress=False)


# --- the command -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_command_loads_and_reports(settings):
    settings.KG_BACKEND = "sql"
    out = io.StringIO()
    call_command("load_works", "--limit", "1", "--composers", "bach", "--seconds", "3", "--no-progress", stdout=out)
    text = out.getvalue()
    assert "Works: 1 selected, 1 loaded, 0 skipped" in text and "audio rendered 1" in text
    assert Work.objects.count() == 1


@pytest.mark.django_db
def test_command_turns_errors_into_one_line(settings):
    settings.KG_BACKEND = "sql"
    with pytest.raises(CommandError, match=r"^\[E001\] unknown composer or collection wagner"):
        call_command("load_works", "--composers", "wagner", "--no-progress")
    settings.FLUIDSYNTH_BINARY = "/nonexistent/fluidsynth"
    with pytest.raises(CommandError, match=r"^\[E041\]"):
        call_command("load_works", "--limit", "1", "--no-progress")
