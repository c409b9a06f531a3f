"""The streaming Last.FM load (issue 17): batches change nothing, bad lines write nothing, re-runs are no-ops.

``lastfm_load`` reads every file twice (a validation pass that keeps ids and aggregates, then a write
pass in batches), so what it writes must not depend on the batch sizes, and a bad line anywhere (also
in the last file, or a duplicate far from the row it repeats) must stop it before anything is written.
The hand-made fixture of ``tests/ingestion`` is small, so tiny batch sizes give many batches; a scaled
synthetic data set (when the real data is present) checks the validation pass against the in-memory
reader on tens of thousands of rows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings

from catalog.models import Artist, Friendship, Listen, Listener, Tag, TagAssignment
from core.errors import DataFileError
from ingestion.loaders import lastfm as loader
from ingestion.loaders.lastfm import (
    LastfmPaths,
    kgcn_graph_records,
    kgcn_subset_select,
    lastfm_catalogue_select,
    lastfm_counts,
    lastfm_dataset_read,
    lastfm_load,
    lastfm_scan,
)

FIXTURE_DIR = Path(__file__).resolve().parent.parent / "ingestion" / "fixtures" / "lastfm"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(FIXTURE_DIR, target)
    return target


def append_line(path: Path, text: str) -> int:
    """Append ``text`` as a new last line (keeping the file's line ending); returns its 1-based number."""
    raw = path.read_bytes()
    ending = b"\r\n" if raw.endswith(b"\r\n") else b"\n"
    if not raw.endswith(b"\n"):
        raw += ending
    path.write_bytes(raw + text.encode("utf-8") + ending)
    return raw.count(b"\n") + 1


def catalog_rows() -> dict[str, set]:
    """Every catalog row by natural key and values (no primary keys or time stamps)."""
    return {
        "artists": set(
            Artist.objects.values_list("lastfm_id", "name", "url", "picture_url", "entity_id", "kgcn_entity")
        ),
        "listeners": set(Listener.objects.values_list("lastfm_id", flat=True)),
        "tags": set(Tag.objects.values_list("lastfm_id", "name", "entity_id")),
        "listens": set(Listen.objects.values_list("listener__lastfm_id", "artist__lastfm_id", "play_count")),
        "tag_assignments": set(
            TagAssignment.objects.values_list("listener__lastfm_id", "artist__lastfm_id", "tag__lastfm_id", "tagged_on")
        ),
        "friendships": set(Friendship.objects.values_list("listener__lastfm_id", "friend__lastfm_id")),
    }


def graph_rows(store) -> tuple[set, set]:
    entities = {(e.id, e.type, e.name, repr(sorted(e.properties.items()))) for e in store.iter_entities()}
    relations = set()
    for head, relation_type, tail in store.iter_triples():
        r = store.get_relation(head, relation_type, tail)
        relations.add((r.head, r.type, r.tail, r.source, r.confidence, repr(sorted(r.properties.items()))))
    return entities, relations


def everything(store) -> tuple:
    return catalog_rows(), graph_rows(store)


def clear_catalog() -> None:
    for model in (Friendship, TagAssignment, Listen, Tag, Listener, Artist):
        model.objects.all().delete()


# --- the validation pass agrees with the in-memory reader -------------------------------------------


def _assert_scan_matches_the_in_memory_path(data_dir: Path) -> None:
    dataset = lastfm_dataset_read(data_dir=data_dir)
    catalogue = lastfm_catalogue_select(dataset=dataset)
    records = kgcn_graph_records(subset=catalogue)
    scan = lastfm_scan(data_dir=data_dir)

    assert scan.counts == lastfm_counts(selection=catalogue, records=records)
    assert scan.kgcn == lastfm_counts(selection=kgcn_subset_select(dataset=dataset))
    assert scan.user_ids == catalogue.user_ids
    assert sorted(scan.graph_entities(), key=lambda e: e.id) == sorted(records.entities, key=lambda e: e.id)
    assert sorted(scan.graph_relations(), key=lambda r: r.key) == sorted(records.relations, key=lambda r: r.key)
    assert [(a.artist, a.kgcn_entity) for a in scan.artists()] == [(a.artist, a.kgcn_entity) for a in catalogue.artists]
    assert list(scan.listens()) == catalogue.listens
    assert list(scan.tag_assignments()) == catalogue.tag_assignments
    assert list(scan.friendships()) == catalogue.friendships


def test_scan_gives_the_same_counts_rows_and_graph_records_as_the_in_memory_reader():
    _assert_scan_matches_the_in_memory_path(FIXTURE_DIR)


@pytest.mark.slow
def test_scan_matches_the_in_memory_reader_on_scaled_synthetic_data(tmp_path):
    if not LastfmPaths.in_data_dir(Path(settings.LEITMOTIF_DATA_DIR)).kg_triples.is_file():
        pytest.skip("the real Last.FM data (the generator's source) is not present")
    from benchmarks.synthetic_lastfm import generate, write_lastfm_dir

    write_lastfm_dir(generate(0.3, seed=11), tmp_path)
    _assert_scan_matches_the_in_memory_path(tmp_path)


# --- batch sizes ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_tiny_batches_write_exactly_what_one_batch_writes(sql_store, monkeypatch):
    one = lastfm_load(data_dir=FIXTURE_DIR, store=sql_store, progress=False, catalog_batch_size=1_000_000)
    in_one_batch = everything(sql_store)
    clear_catalog()
    sql_store.clear()
    assert catalog_rows() == {name: set() for name in in_one_batch[0]}

    monkeypatch.setattr(loader, "GRAPH_CHUNK_SIZE", 2)
    seen: list[tuple[str, int]] = []
    many = lastfm_load(
        data_dir=FIXTURE_DIR,
        store=sql_store,
        progress=False,
        batch_size=1,
        catalog_batch_size=2,
        on_progress=lambda phase, done: seen.append((phase, done)),
    )

    assert everything(sql_store) == in_one_batch
    assert many.catalog == one.catalog and many.graph == one.graph and many.counts == one.counts
    assert [done for phase, done in seen if phase == "listens"] == [2, 4, 6]  # three batches of two listens
    assert [done for phase, done in seen if phase == "graph_relations"][-1] == 14


@pytest.mark.django_db
def test_the_load_streams_instead_of_reading_everything_into_memory(sql_store, monkeypatch):
    def refuse(**kwargs):
        raise AssertionError("lastfm_load must not hold every row (lastfm_dataset_read)")

    monkeypatch.setattr(loader, "lastfm_dataset_read", refuse)
    monkeypatch.setattr(loader, "kgcn_graph_records", refuse)
    report = lastfm_load(data_dir=FIXTURE_DIR, store=sql_store, progress=False, catalog_batch_size=2)
    assert report.catalog["listens"].created == 6 and report.graph.relations.created == 14
    assert set(report.timings) == {"scan", "catalog", "graph_entities", "graph_relations"}


# --- re-runs ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rerun_with_small_batches_changes_nothing(sql_store):
    lastfm_load(data_dir=FIXTURE_DIR, store=sql_store, progress=False, catalog_batch_size=2, batch_size=2)
    before = everything(sql_store)
    stamps = dict(Listen.objects.values_list("pk", "updated_at"))

    again = lastfm_load(data_dir=FIXTURE_DIR, store=sql_store, progress=False, catalog_batch_size=2, batch_size=2)

    assert (again.created, again.updated) == (0, 0)
    assert {name: r.unchanged for name, r in again.catalog.items()} == {
        "artists": 5,
        "listeners": 3,
        "tags": 4,
        "listens": 6,
        "tag_assignments": 5,
        "friendships": 4,
    }
    assert everything(sql_store) == before
    assert dict(Listen.objects.values_list("pk", "updated_at")) == stamps


@pytest.mark.django_db
def test_rows_of_other_sources_are_left_alone_by_a_batched_rerun(sql_store):
    lastfm_load(data_dir=FIXTURE_DIR, store=sql_store, progress=False, catalog_batch_size=2)
    learner = Listener.objects.create(lastfm_id=None)
    Listen.objects.create(listener=learner, artist=Artist.objects.get(lastfm_id=1), play_count=3)

    again = lastfm_load(data_dir=FIXTURE_DIR, store=sql_store, progress=False, catalog_batch_size=2)

    assert (again.created, again.updated) == (0, 0)
    assert Listen.objects.filter(listener=learner).count() == 1 and Listen.objects.count() == 7


# --- bad input --------------------------------------------------------------------------------------


BAD_LAST_LINES = [
    pytest.param("lastfm-hetrec/user_friends.dat", "12\t12", "user 12 is listed as their own friend", id="self-friend"),
    pytest.param("lastfm-kgcn/kg.txt", "0\tmusic.artist.origin", "expected 3 tab-separated columns", id="kg-short"),
    pytest.param(
        "lastfm-hetrec/user_friends.dat",
        "10\t11",
        r"duplicate friendship 10 -> 11 \(first seen on line 2\)",
        id="duplicate-far-from-its-first",
    ),
    pytest.param(
        "lastfm-hetrec/user_taggedartists.dat",
        "10\t1\t1\t1\t1\t2009",
        r"duplicate \(user 10, artist 1, tag 1\) assignment \(first seen on line 2\)",
        id="duplicate-assignment",
    ),
    pytest.param(
        "lastfm-kgcn/user_artists.dat",
        "3000000000\t1\t5",
        "column .userID. must be at most 2,147,483,647",
        id="id-out-of-range",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("relative, text, message", BAD_LAST_LINES)
def test_a_bad_last_line_names_file_and_line_and_writes_nothing(data_dir, sql_store, relative, text, message):
    line = append_line(data_dir / relative, text)

    with pytest.raises(DataFileError, match=rf"{Path(relative).name}:{line}: {message}"):
        lastfm_load(data_dir=data_dir, store=sql_store, progress=False, catalog_batch_size=1)

    assert catalog_rows() == {name: set() for name in catalog_rows()}
    assert sql_store.stats().entities == 0 and sql_store.stats().relations == 0


@pytest.mark.django_db
def test_a_bad_line_after_a_good_load_leaves_the_database_as_it_was(data_dir, sql_store):
    lastfm_load(data_dir=data_dir, store=sql_store, progress=False, catalog_batch_size=2)
    before = everything(sql_store)
    (data_dir / "lastfm-kgcn" / "user_artists.dat").write_text(
        (data_dir / "lastfm-kgcn" / "user_artists.dat").read_text().replace("\t100\n", "\t101\n")
    )  # a corrected play count that would be written ...
    line = append_line(data_dir / "lastfm-hetrec" / "user_friends.dat", "11\t11")  # ... but the last file is bad

    with pytest.raises(DataFileError, match=rf"user_friends\.dat:{line}: "):
        lastfm_load(data_dir=data_dir, store=sql_store, progress=False, catalog_batch_size=2)

    assert everything(sql_store) == before


@pytest.mark.django_db
def test_a_failure_during_the_catalog_write_rolls_every_batch_back(sql_store, monkeypatch):
    """A database error in a late batch (here: the friendships) undoes the earlier batches and tables."""
    original = loader._RowInsert.rows

    def fail_on_friendships(self, rows):
        if Friendship._meta.db_table in self.sql:
            raise RuntimeError("disk full")
        original(self, rows)

    monkeypatch.setattr(loader._RowInsert, "rows", fail_on_friendships)
    with pytest.raises(RuntimeError, match="disk full"):
        lastfm_load(data_dir=FIXTURE_DIR, store=sql_store, progress=False, catalog_batch_size=1)
    monkeypatch.undo()

    assert catalog_rows() == {name: set() for name in catalog_rows()}
    assert sql_store.stats().entities == 0


def test_keys_that_share_a_hash_are_not_duplicates(tmp_path):
    """The duplicate check keeps hashes; two different keys with one hash must not be reported."""
    assert hash((-1,)) == hash((-2,))  # CPython: hash(-1) == hash(-2) == -2
    unique = loader._UniqueKeys()
    rows = [(1, (-1,)), (2, (-2,)), (3, (7,))]
    for _, key in rows:
        unique.add(key)
    unique.check(tmp_path, lambda: rows, lambda key: key, str)  # no error

    for _, key in [*rows, (4, (-2,))]:
        unique.add(key)
    with pytest.raises(DataFileError, match=r":4: duplicate \(-2,\) \(first seen on line 2\)"):
        unique.check(tmp_path, lambda: [*rows, (4, (-2,))], lambda key: key, str)


@pytest.mark.django_db
def test_the_debug_query_log_does_not_grow_with_the_load_unless_captured(sql_store, settings):
    """With DEBUG on Django logs every statement; the loader clears that log per batch, not a capture's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.DEBUG = True
    lastfm_load(data_dir=FIXTURE_DIR, store=sql_store, progress=False, catalog_batch_size=2)
    assert len(connection.queries_log) < 20  # only what ran after the last batch

    clear_catalog()
    sql_store.clear()
    with CaptureQueriesContext(connection) as captured:
        lastfm_load(data_dir=FIXTURE_DIR, store=sql_store, progress=False, catalog_batch_size=2)
    assert any("INSERT" in q["sql"] and "catalog_listen" in q["sql"] for q in captured.captured_queries)
