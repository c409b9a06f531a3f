"""Seeded splits: disjointness, fractions, determinism, nesting, cold items, TSV round-trip and errors."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
import scipy.sparse as sp

from core.errors import DataFileError
from recommender.data import NO_LASTFM_ID, InteractionDataset, SourceIds
from recommender.evaluation import splits as S
from tests.helpers.recommender_data import synthetic_dataset, write_tiny_lastfm


@pytest.fixture(scope="module")
def dataset() -> InteractionDataset:
    return synthetic_dataset()


def pairs(matrix: sp.csr_matrix) -> set[tuple[int, int]]:
    coo = matrix.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist()))


def same_matrix(a: sp.csr_matrix, b: sp.csr_matrix) -> bool:
    return a.shape == b.shape and (a != b).nnz == 0


# --- dataset ---------------------------------------------------------------------------------


def test_from_arrays_sorts_ids_and_keeps_play_counts():
    ds = InteractionDataset.from_arrays([20, 10, 20], [7, 7, 5], [3, 1, 9], all_item_ids=[7, 5, 99])
    assert ds.user_ids.tolist() == [10, 20]
    assert ds.item_ids.tolist() == [5, 7, 99]  # 99 has no listens but is still a candidate item
    assert ds.matrix.toarray().tolist() == [[0, 1, 0], [9, 3, 0]]


@pytest.mark.parametrize(
    "users, items, weights, message",
    [
        ([1, 2], [1], [1, 1], "same length"),
        ([1, 1], [5, 5], [1, 2], "appears 2 times"),
        ([1], [5], [0], "positive play counts"),
        ([1], [5], [float("nan")], "positive play counts"),
    ],
)
def test_from_arrays_rejects_bad_input(users, items, weights, message):
    with pytest.raises(ValueError, match=message):
        InteractionDataset.from_arrays(users, items, weights)


# --- Protocol T ------------------------------------------------------------------------------


def test_protocol_t_parts_are_disjoint_and_cover_every_interaction(dataset):
    split = S.protocol_t_split(dataset, seed=0)
    train, validation, test = pairs(split.train), pairs(split.validation), pairs(split.test)
    assert not train & test and not validation & test and not train & validation
    assert train | validation | test == pairs(dataset.matrix)
    # play counts travel with the pairs
    assert same_matrix(split.train + split.validation + split.test, dataset.matrix)


def test_protocol_t_fractions_and_small_user_rule(dataset):
    split = S.protocol_t_split(dataset, seed=0)
    total = dataset.n_interactions
    assert split.train.nnz / total == pytest.approx(0.8, abs=0.03)
    assert split.validation.nnz / total == pytest.approx(0.1, abs=0.03)
    assert split.test.nnz / total == pytest.approx(0.1, abs=0.03)
    counts = np.diff(dataset.matrix.indptr)
    test_counts, val_counts, train_counts = (np.diff(m.indptr) for m in (split.test, split.validation, split.train))
    small = counts < 3
    # users 0 and 1 (1 and 2 items) keep everything in training: never their only item in test
    assert small[:2].all() and np.array_equal(train_counts[small], counts[small])
    assert (test_counts[small] == 0).all() and (val_counts[small] == 0).all()
    # everyone else gets at least one test and one validation item and keeps training items
    assert (test_counts[~small] >= 1).all() and (val_counts[~small] >= 1).all() and (train_counts[~small] >= 1).all()
    assert split.config["users_train_only"] == 2


def test_protocol_t_is_deterministic_per_seed(dataset):
    a, b, c = (S.protocol_t_split(dataset, seed=s) for s in (3, 3, 4))
    assert same_matrix(a.test, b.test) and same_matrix(a.validation, b.validation)
    assert not same_matrix(a.test, c.test)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seed": -1}, "non-negative integer"),
        ({"seed": 1.5}, "non-negative integer"),
        ({"seed": 0, "test_fraction": 0}, r"test_fraction must be a number in \(0, 1\)"),
        ({"seed": 0, "test_fraction": 0.6, "validation_fraction": 0.5}, "must be below 1"),
        ({"seed": 0, "min_items_for_holdout": 2}, "at least 3"),
    ],
)
def test_protocol_t_rejects_bad_arguments(dataset, kwargs, message):
    with pytest.raises(ValueError, match=message):
        S.protocol_t_split(dataset, **kwargs)


# --- Protocol C ------------------------------------------------------------------------------


def test_protocol_c_splits_positives_and_samples_one_unplayed_negative_each(dataset):
    split = S.protocol_c_split(dataset, seed=0)
    train, validation, test = pairs(split.train), pairs(split.validation), pairs(split.test)
    positives = pairs(dataset.matrix)
    assert train | validation | test == positives and not (train & test or validation & test or train & validation)
    assert len(train) / len(positives) == pytest.approx(0.6, abs=0.01)
    assert len(test) / len(positives) == pytest.approx(0.2, abs=0.01)
    for positive, negative in ((split.validation, split.validation_negatives), (split.test, split.test_negatives)):
        assert np.array_equal(np.diff(positive.indptr), np.diff(negative.indptr))  # one negative per positive, per user
        assert not pairs(negative) & positives
    assert not pairs(split.validation_negatives) & pairs(split.test_negatives)
    labelled, labels = split.labelled_pairs("test")
    assert labels.sum() == split.test.nnz and (labels == 0).sum() == split.test_negatives.nnz
    assert np.array_equal(labelled, labelled[np.lexsort((labelled[:, 1], labelled[:, 0]))])


def test_protocol_c_is_deterministic_per_seed(dataset):
    a, b, c = (S.protocol_c_split(dataset, seed=s) for s in (1, 1, 2))
    assert same_matrix(a.test_negatives, b.test_negatives) and same_matrix(a.test, b.test)
    assert not same_matrix(a.test_negatives, c.test_negatives)


def test_protocol_c_refuses_a_data_set_too_dense_for_negatives():
    dense = InteractionDataset.from_arrays([1, 1, 1, 2], [1, 2, 3, 1], [1, 1, 1, 1])
    with pytest.raises(ValueError, match="too dense"):
        S.protocol_c_split(dense, seed=0, validation_fraction=0.4, test_fraction=0.4)


# --- sparsity --------------------------------------------------------------------------------


def test_sparsity_subsets_are_nested_and_share_validation_and_test(dataset):
    base = S.protocol_t_split(dataset, seed=0)
    subsets = S.sparsity_splits(base, fractions=(0.5, 0.1, 0.2, 0.3, 0.4, 1.0))
    assert [s.config["fraction"] for s in subsets] == [0.1, 0.2, 0.3, 0.4, 0.5, 1.0]
    assert [s.label for s in subsets][0] == "sparsity@0.1"
    for smaller, larger in zip(subsets, subsets[1:]):
        assert pairs(smaller.train) <= pairs(larger.train)
        assert smaller.train.nnz < larger.train.nnz
    assert same_matrix(subsets[-1].train, base.train)
    base_train_users = np.diff(base.train.indptr) > 0
    for subset in subsets:
        assert same_matrix(subset.validation, base.validation) and same_matrix(subset.test, base.test)
        # what the subset leaves out is withheld (excluded from ranking), so train + withheld = base train
        assert not pairs(subset.train) & pairs(subset.withheld)
        assert same_matrix(subset.train + subset.withheld, base.train)
        # per-user rule: every user with training data keeps at least one item
        assert np.array_equal(np.diff(subset.train.indptr) > 0, base_train_users)
    assert subsets[0].train.nnz / base.train.nnz == pytest.approx(subsets[0].config["actual_fraction"], abs=1e-6)
    again = S.sparsity_splits(base, fractions=(0.1,))
    assert same_matrix(again[0].train, subsets[0].train)


def test_sparsity_needs_a_protocol_t_base_and_valid_fractions(dataset):
    cold = S.cold_start_split(dataset, seed=0)
    with pytest.raises(ValueError, match="Protocol T"):
        S.sparsity_splits(cold)
    with pytest.raises(ValueError, match="fraction"):
        S.sparsity_splits(S.protocol_t_split(dataset, seed=0), fractions=(0.0, 0.5))


# --- cold start ------------------------------------------------------------------------------


def test_cold_items_have_no_training_interactions_and_are_the_only_test_items(dataset):
    split = S.cold_start_split(dataset, seed=0)
    cold = set(split.cold_items.tolist())
    interacted = int((np.diff(dataset.matrix.tocsc().indptr) > 0).sum())
    assert len(cold) == round(0.1 * interacted)
    assert not {i for _, i in pairs(split.train) | pairs(split.validation)} & cold
    assert {i for _, i in pairs(split.test)} <= cold
    warm_users = np.diff((split.train + split.validation).indptr) > 0
    expected = {(u, i) for u, i in pairs(dataset.matrix) if i in cold and warm_users[u]}
    assert pairs(split.test) == expected
    assert pairs(split.train) | pairs(split.validation) | pairs(split.test) <= pairs(dataset.matrix)
    assert not pairs(split.train) & pairs(split.validation)
    context = split.training_context()
    assert np.array_equal(context.cold_items, split.cold_items)
    assert same_matrix(S.cold_start_split(dataset, seed=0).test, split.test)
    assert not np.array_equal(S.cold_start_split(dataset, seed=1).cold_items, split.cold_items)


# --- TSV export / import ---------------------------------------------------------------------


def assert_same_split(a, b):
    assert type(a) is type(b)
    assert (a.protocol, a.seed, a.config) == (b.protocol, b.seed, b.config)
    assert np.array_equal(a.user_ids, b.user_ids) and np.array_equal(a.item_ids, b.item_ids)
    for name in ("train", "validation", "test"):
        assert same_matrix(getattr(a, name), getattr(b, name)), name
    if isinstance(a, S.CTRSplit):
        assert same_matrix(a.validation_negatives, b.validation_negatives)
        assert same_matrix(a.test_negatives, b.test_negatives)
    else:
        assert np.array_equal(a.cold_items, b.cold_items)
        assert (a.withheld is None) == (b.withheld is None)
        if a.withheld is not None:
            assert same_matrix(a.withheld, b.withheld)


@pytest.mark.parametrize("protocol", ["T", "C", "sparsity", "cold_start"])
def test_tsv_export_import_round_trip(dataset, tmp_path, protocol):
    if protocol == "T":
        split = S.protocol_t_split(dataset, seed=5)
    elif protocol == "C":
        split = S.protocol_c_split(dataset, seed=5)
    elif protocol == "sparsity":
        split = S.sparsity_splits(S.protocol_t_split(dataset, seed=5), fractions=(0.3,))[0]
    else:
        split = S.cold_start_split(dataset, seed=5)
    tsv, sidecar = S.export_split(split, tmp_path / "split.tsv")
    assert sidecar == tmp_path / "split.json"
    lines = tsv.read_text().splitlines()
    assert lines[0] == "user_id\titem_id\tweight\tsplit"
    # real catalog ids, not indices
    user, item, weight, part = lines[1].split("\t")
    assert int(user) in dataset.user_ids and int(item) in dataset.item_ids
    assert json.loads(sidecar.read_text())["seed"] == 5
    if protocol == "sparsity":
        assert any(line.endswith("\twithheld") for line in lines)
    assert_same_split(split, S.import_split(tsv))


@pytest.fixture
def exported_t(dataset, tmp_path):
    split = S.protocol_t_split(dataset, seed=0)
    tsv, _ = S.export_split(split, tmp_path / "t.tsv")
    return tsv


def rewrite(path, edit):
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")


def find_line(lines, part):
    return next(k for k, line in enumerate(lines) if line.endswith("\t" + part))


@pytest.mark.parametrize(
    "edit, line, message",
    [
        (lambda ls: ls.__setitem__(0, "user\titem\tweight\tsplit"), 1, "header must be"),
        (lambda ls: ls.__setitem__(1, "1000\t500\t3"), 2, "expected 4 tab-separated columns"),
        (lambda ls: ls.__setitem__(1, "abc\t500\t3\ttrain"), 2, "must be integers"),
        (lambda ls: ls.__setitem__(1, "1\t500\t3\ttrain"), 2, "user_id 1 is not listed"),
        (lambda ls: ls.__setitem__(1, ls[1].split("\t")[0] + "\t501\t3\ttrain"), 2, "item_id 501 is not listed"),
        (lambda ls: ls.__setitem__(1, "\t".join(ls[1].split("\t")[:2] + ["-2", "train"])), 2, "finite play count"),
        (lambda ls: ls.__setitem__(1, "\t".join(ls[1].split("\t")[:2] + ["many", "train"])), 2, "must be a number"),
        (lambda ls: ls.__setitem__(1, "\t".join(ls[1].split("\t")[:2] + ["0", "train"])), 2, "weight 0"),
        (lambda ls: ls.__setitem__(1, "\t".join(ls[1].split("\t")[:3] + ["holdout"])), 2, "split must be one of"),
        (
            lambda ls: ls.__setitem__(1, "\t".join(ls[1].split("\t")[:3] + ["withheld"])),
            2,
            "split must be one of train, validation, test,",
        ),
        (lambda ls: ls.insert(2, "\t".join(ls[1].split("\t")[:3] + ["test"])), 3, "is already in train at line 2"),
        (lambda ls: ls.insert(2, ls[1]), 3, "repeats line 2"),
        (lambda ls: ls.insert(2, ""), 3, "empty line"),
    ],
)
def test_malformed_tsv_raises_data_file_error_with_file_and_line(exported_t, edit, line, message):
    rewrite(exported_t, edit)
    with pytest.raises(DataFileError, match=message) as info:
        S.import_split(exported_t)
    assert info.value.path == str(exported_t) and info.value.line == line
    assert f"{exported_t}:{line}:" in str(info.value)


def test_truncated_tsv_is_detected_against_the_sidecar_counts(exported_t):
    rewrite(exported_t, lambda ls: ls.pop(find_line(ls, "test")))
    with pytest.raises(DataFileError, match="test rows but the sidecar says"):
        S.import_split(exported_t)


def test_cold_item_in_training_is_rejected(dataset, tmp_path):
    split = S.cold_start_split(dataset, seed=0)
    tsv, _ = S.export_split(split, tmp_path / "cold.tsv")
    k = find_line(tsv.read_text().splitlines(), "test")
    rewrite(tsv, lambda ls: ls.__setitem__(k, ls[k].rsplit("\t", 1)[0] + "\ttrain"))
    with pytest.raises(DataFileError, match="held-out cold item") as info:
        S.import_split(tsv)
    assert info.value.line == k + 1


def test_missing_or_broken_sidecar(exported_t):
    sidecar = S.sidecar_path(exported_t)
    sidecar.write_text('{"format": "leitmotif.split.v1",\n  "seed": }\n')
    with pytest.raises(DataFileError, match="not valid JSON") as info:
        S.import_split(exported_t)
    assert info.value.path == str(sidecar) and info.value.line == 2
    sidecar.write_text(json.dumps({"format": "leitmotif.split.v1"}))
    with pytest.raises(DataFileError, match="missing keys"):
        S.import_split(exported_t)
    sidecar.unlink()
    with pytest.raises(DataFileError, match="sidecar is missing"):
        S.import_split(exported_t)


def test_export_never_leaves_partial_files_and_keeps_existing_ones(dataset, tmp_path):
    split = S.protocol_t_split(dataset, seed=0)
    tsv, sidecar = S.export_split(split, tmp_path / "t.tsv")
    before = tsv.read_bytes()
    S.export_split(split, tmp_path / "t.tsv")  # idempotent: same content
    assert tsv.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "t.tsv"]  # no temporary leftovers
    with pytest.raises(ValueError, match="ending in .tsv"):
        S.export_split(split, tmp_path / "t.json")


# --- catalog constructor ---------------------------------------------------------------------


@pytest.mark.django_db
def test_from_catalog_reads_the_kg_linked_subset_with_side_info(sql_store):
    from catalog.models import Artist, Listen, Listener, Tag, TagAssignment
    from kg.stores import EntityRecord, RelationRecord

    linked_a = Artist.objects.create(lastfm_id=1, name="A", entity_id="lastfm:artist:1", kgcn_entity=10)
    linked_b = Artist.objects.create(lastfm_id=2, name="B", entity_id="lastfm:artist:2", kgcn_entity=11)
    unplayed = Artist.objects.create(lastfm_id=3, name="C", entity_id="lastfm:artist:3", kgcn_entity=12)
    unlinked = Artist.objects.create(lastfm_id=4, name="D", entity_id="lastfm:artist:4")
    alice, bob, carol = (Listener.objects.create(lastfm_id=n) for n in (100, 200, 300))
    Listen.objects.create(listener=alice, artist=linked_a, play_count=5)
    Listen.objects.create(listener=alice, artist=linked_b, play_count=2)
    Listen.objects.create(listener=bob, artist=linked_b, play_count=7)
    Listen.objects.create(listener=bob, artist=unplayed, play_count=0)  # zero plays: not an interaction
    Listen.objects.create(listener=carol, artist=unlinked, play_count=9)  # not KG-linked: carol is not a user
    rock, jazz = (
        Tag.objects.create(lastfm_id=1, name="rock", entity_id="lastfm:tag:1"),
        Tag.objects.create(lastfm_id=2, name="jazz", entity_id="lastfm:tag:2"),
    )
    for listener in (alice, bob):
        TagAssignment.objects.create(listener=listener, artist=linked_a, tag=rock)
    TagAssignment.objects.create(listener=alice, artist=linked_b, tag=jazz)
    TagAssignment.objects.create(listener=alice, artist=unlinked, tag=jazz)

    sql_store.upsert_entities(
        [
            EntityRecord(id="lastfm:artist:1", type="Artist", name="A"),
            EntityRecord(id="lastfm:artist:2", type="Artist", name="B"),
            EntityRecord(id="kgcn:500", type="Genre", name="Genre kgcn:500"),
            EntityRecord(id="lastfm:user:100", type="Listener", name="alice"),
        ]
    )
    sql_store.upsert_relations(
        [
            RelationRecord(head="lastfm:artist:1", type="GENRE", tail="kgcn:500"),
            RelationRecord(head="lastfm:artist:2", type="GENRE", tail="kgcn:500"),
            RelationRecord(head="lastfm:user:100", type="LISTENED_TO", tail="lastfm:artist:1"),  # must not leak
        ]
    )

    ds = InteractionDataset.from_catalog(store=sql_store)
    assert ds.user_ids.tolist() == [alice.pk, bob.pk]
    assert ds.item_ids.tolist() == [linked_a.pk, linked_b.pk, unplayed.pk]
    assert ds.matrix.toarray().tolist() == [[5, 2, 0], [0, 7, 0]]

    info = ds.side_info
    assert info.tag_names == ["rock", "jazz"]  # ordered by Tag pk; only tags used on items
    assert info.item_tags.toarray().tolist() == [[2, 0], [0, 1], [0, 0]]
    assert info.relation_types == ["GENRE"]
    assert info.entity_ids == ["kgcn:500", "lastfm:artist:1", "lastfm:artist:2", "lastfm:artist:3"]
    assert info.item_entity.tolist() == [1, 2, 3]  # the unplayed artist still has an entity
    assert sorted(map(tuple, info.kg_triples.tolist())) == [(1, 0, 0), (2, 0, 0)]

    assert InteractionDataset.from_catalog().side_info is None


@pytest.mark.django_db
def test_from_catalog_explains_an_empty_catalog():
    with pytest.raises(ValueError, match="load the Last.FM listening data"):
        InteractionDataset.from_catalog()


# --- exports that join back: source ids (Last.FM user/artist ids, graph entity ids) ----------------


def with_sources(ds: InteractionDataset, *, learner: int | None = None) -> InteractionDataset:
    """``ds`` with Last.FM ids unlike its pks (user index ``learner``, if given, is a learner account)."""
    lastfm_users = np.asarray(2 * ds.user_ids + 1, dtype=np.int64)
    if learner is not None:
        lastfm_users[learner] = NO_LASTFM_ID
    lastfm_artists = np.asarray(ds.item_ids + 40_000, dtype=np.int64)
    sources = SourceIds(
        lastfm_user_ids=lastfm_users,
        lastfm_artist_ids=lastfm_artists,
        artist_entity_ids=np.asarray([f"lastfm:artist:{a}" for a in lastfm_artists], dtype=object),
    )
    return dataclasses.replace(ds, sources=sources)


def assert_same_sources(a, b):
    assert (a is None) == (b is None)
    if a is not None:
        assert a.lastfm_user_ids.tolist() == b.lastfm_user_ids.tolist()
        assert a.lastfm_artist_ids.tolist() == b.lastfm_artist_ids.tolist()
        assert [str(e) for e in a.artist_entity_ids] == [str(e) for e in b.artist_entity_ids]


def split_of(ds: InteractionDataset, protocol: str, seed: int = 5):
    if protocol == "T":
        return S.protocol_t_split(ds, seed=seed)
    if protocol == "C":
        return S.protocol_c_split(ds, seed=seed)
    if protocol == "sparsity":
        return S.sparsity_splits(S.protocol_t_split(ds, seed=seed), fractions=(0.3,))[0]
    return S.cold_start_split(ds, seed=seed)


def read_rows(tsv) -> list[dict[str, str]]:
    with tsv.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def sourced(dataset) -> InteractionDataset:
    return with_sources(dataset, learner=5)


@pytest.mark.parametrize("protocol", ["T", "C", "sparsity", "cold_start"])
def test_source_id_export_round_trips_with_and_without_a_dataset(sourced, tmp_path, protocol):
    split = split_of(sourced, protocol)
    tsv, sidecar = S.export_split(split, tmp_path / "split.tsv")
    lines = tsv.read_text().splitlines()
    assert lines[0] == "listener_pk\tartist_pk\tweight\tsplit\tlastfm_user_id\tlastfm_artist_id\tartist_entity_id"
    meta = json.loads(sidecar.read_text())
    assert meta["format"] == "leitmotif.split.v2" and meta["columns"] == lines[0].split("\t")
    assert meta["learner_accounts"] == 1 and meta["lastfm_user_ids"][5] is None
    assert "learner" in meta["column_meanings"]["lastfm_user_id"]
    for reloaded in (S.import_split(tsv), S.import_split(tsv, dataset=sourced)):
        assert_same_split(split, reloaded)
        assert_same_sources(split.sources, reloaded.sources)


def test_source_id_rows_carry_the_ids_of_their_user_and_item(sourced, tmp_path):
    split = S.protocol_t_split(sourced, seed=0)
    tsv, _ = S.export_split(split, tmp_path / "t.tsv")
    user_at = {int(pk): k for k, pk in enumerate(sourced.user_ids)}
    item_at = {int(pk): k for k, pk in enumerate(sourced.item_ids)}
    learner_rows = 0
    for row in read_rows(tsv):
        u, i = user_at[int(row["listener_pk"])], item_at[int(row["artist_pk"])]
        lastfm_user = int(sourced.sources.lastfm_user_ids[u])
        if lastfm_user == NO_LASTFM_ID:
            assert row["lastfm_user_id"] == ""
            learner_rows += 1
        else:
            assert int(row["lastfm_user_id"]) == lastfm_user
        assert int(row["lastfm_artist_id"]) == sourced.sources.lastfm_artist_ids[i]
        assert row["artist_entity_id"] == sourced.sources.artist_entity_ids[i]
        assert float(row["weight"]) == sourced.matrix[u, i]
    assert learner_rows == sourced.matrix[5].nnz > 0


def test_import_into_a_dataset_loaded_in_another_order_matches_by_lastfm_id(dataset, tmp_path):
    """Same Last.FM data, other primary keys and index order: rows land on the same Last.FM pairs."""
    here = with_sources(dataset)
    split = S.protocol_t_split(here, seed=0)
    tsv, _ = S.export_split(split, tmp_path / "t.tsv")
    coo = here.matrix.tocoo()
    new_user_pk = {int(pk): 90_000 - int(pk) for pk in here.user_ids}  # reverses the user order
    new_item_pk = {int(pk): 70_000 - 3 * int(pk) for pk in here.item_ids}
    there = InteractionDataset.from_arrays(
        [new_user_pk[int(here.user_ids[r])] for r in coo.row],
        [new_item_pk[int(here.item_ids[c])] for c in coo.col],
        coo.data,
    )
    lastfm_user = {new_user_pk[int(pk)]: int(v) for pk, v in zip(here.user_ids, here.sources.lastfm_user_ids)}
    lastfm_artist = {new_item_pk[int(pk)]: int(v) for pk, v in zip(here.item_ids, here.sources.lastfm_artist_ids)}
    there = dataclasses.replace(
        there,
        sources=SourceIds(
            lastfm_user_ids=np.asarray([lastfm_user[int(pk)] for pk in there.user_ids]),
            lastfm_artist_ids=np.asarray([lastfm_artist[int(pk)] for pk in there.item_ids]),
            artist_entity_ids=np.asarray(
                [f"lastfm:artist:{lastfm_artist[int(pk)]}" for pk in there.item_ids], dtype=object
            ),
        ),
    )
    reloaded = S.import_split(tsv, dataset=there)
    assert np.array_equal(reloaded.user_ids, there.user_ids) and reloaded.sources is there.sources

    def by_lastfm(s, matrix):
        m = matrix.tocoo()
        return {
            (int(s.sources.lastfm_user_ids[r]), int(s.sources.lastfm_artist_ids[c]), float(w))
            for r, c, w in zip(m.row, m.col, m.data)
        }

    for part in ("train", "validation", "test"):
        assert by_lastfm(reloaded, getattr(reloaded, part)) == by_lastfm(split, getattr(split, part)), part
    assert not same_matrix(reloaded.test, split.test)  # the index spaces really differ

    # A Last.FM user the other database does not have: file:line of that user's first row.
    gone = int(there.sources.lastfm_user_ids[3])
    without = dataclasses.replace(
        there,
        sources=dataclasses.replace(
            there.sources,
            lastfm_user_ids=np.where(there.sources.lastfm_user_ids == gone, 1, there.sources.lastfm_user_ids),
        ),
    )
    line = next(k for k, row in enumerate(read_rows(tsv), start=2) if row["lastfm_user_id"] == str(gone))
    with pytest.raises(DataFileError, match=f"Last.FM user {gone} .*is not in the dataset") as info:
        S.import_split(tsv, dataset=without)
    assert (info.value.path, info.value.line) == (str(tsv), line)


def test_import_by_source_ids_needs_a_dataset_with_source_ids(sourced, dataset, tmp_path):
    tsv, _ = S.export_split(S.protocol_t_split(sourced, seed=0), tmp_path / "t.tsv")
    with pytest.raises(ValueError, match="InteractionDataset.from_catalog"):
        S.import_split(tsv, dataset=dataset)


@pytest.fixture
def exported_sourced(sourced, tmp_path):
    tsv, _ = S.export_split(S.protocol_t_split(sourced, seed=0), tmp_path / "t.tsv")
    return tsv


def edit_cell(column: str, value):
    """Edit of data line 1 (file line 2): set ``column`` to ``value`` (a callable gets the row's cells)."""
    index = S.SOURCE_COLUMNS.index(column)

    def edit(lines):
        cells = lines[1].split("\t")
        cells[index] = value(cells) if callable(value) else value
        lines[1] = "\t".join(cells)

    return edit


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda ls: ls.__setitem__(0, S.TSV_HEADER), "header must be 'listener_pk"),
        (lambda ls: ls.__setitem__(1, ls[1].rsplit("\t", 1)[0]), "expected 7 tab-separated columns"),
        (edit_cell("listener_pk", "x"), "listener_pk and artist_pk must be integers"),
        (edit_cell("lastfm_user_id", "abc"), "lastfm_user_id must be an integer, or empty"),
        (edit_cell("lastfm_user_id", "999999"), "Last.FM user 999999 is not listed in the sidecar"),
        (edit_cell("lastfm_user_id", lambda c: str(2 * (int(c[0]) + 3) + 1)), "does not match Last.FM user"),
        (edit_cell("lastfm_user_id", ""), r"lastfm_user_id is empty \(a learner account\) but the sidecar lists"),
        (edit_cell("lastfm_artist_id", "7"), "Last.FM artist 7 is not listed in the sidecar"),
        (edit_cell("lastfm_artist_id", "x"), "lastfm_artist_id must be an integer"),
        (edit_cell("artist_pk", lambda c: str(int(c[1]) + 7)), "artist_pk .* does not match Last.FM artist"),
        (edit_cell("artist_entity_id", "lastfm:artist:1"), "artist_entity_id 'lastfm:artist:1' does not match"),
        (edit_cell("artist_entity_id", ""), "artist_entity_id is empty"),
        (edit_cell("weight", "-1"), "finite play count"),
    ],
)
def test_malformed_source_id_rows_name_file_and_line(exported_sourced, edit, message):
    rewrite(exported_sourced, edit)
    with pytest.raises(DataFileError, match=message) as info:
        S.import_split(exported_sourced)
    line = 1 if "header" in message else 2
    assert (info.value.path, info.value.line) == (str(exported_sourced), line)
    assert f"{exported_sourced}:{line}:" in str(info.value)


def test_learner_rows_are_matched_by_listener_pk(sourced, exported_sourced):
    learner_pk = int(sourced.user_ids[5])
    lines = exported_sourced.read_text().splitlines()
    k = next(n for n, line in enumerate(lines) if line.startswith(f"{learner_pk}\t"))
    assert lines[k].split("\t")[4] == ""
    other = int(sourced.user_ids[6])
    rewrite(exported_sourced, lambda ls: ls.__setitem__(k, f"{other}\t" + ls[k].split("\t", 1)[1]))
    with pytest.raises(DataFileError, match=f"lastfm_user_id is empty .* listener_pk {other}") as info:
        S.import_split(exported_sourced)
    assert info.value.line == k + 1


def test_sidecar_source_lists_are_checked(exported_sourced):
    sidecar = S.sidecar_path(exported_sourced)
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "lastfm_artist_ids": meta["lastfm_artist_ids"][:-1]}))
    with pytest.raises(DataFileError, match="lastfm_artist_ids must be a list aligned with item_ids") as info:
        S.import_split(exported_sourced)
    assert info.value.path == str(sidecar)
    sidecar.write_text(json.dumps({**meta, "columns": ["user", "item"]}))
    with pytest.raises(DataFileError, match="columns must be"):
        S.import_split(exported_sourced)


def test_a_v1_export_still_imports(dataset, tmp_path):
    split = S.protocol_t_split(dataset, seed=2)
    tsv, sidecar = S.export_split(split, tmp_path / "old.tsv")
    meta = json.loads(sidecar.read_text())
    for key in ("columns", "column_meanings"):
        meta.pop(key)
    meta.update(format="leitmotif.split.v1", columns=["user_id", "item_id", "weight", "split"], weight="play count")
    sidecar.write_text(json.dumps(meta))
    assert_same_split(split, S.import_split(tsv))
    assert_same_split(split, S.import_split(tsv, dataset=dataset))  # matched by id: the dataset's own ids


@pytest.fixture
def lastfm_catalog(db, tmp_path):
    """The tiny Last.FM folder loaded after an unrelated artist (so pks differ from Last.FM ids), plus a learner."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from catalog.models import Artist, Listen, Listener

    Artist.objects.create(lastfm_id=9_999, name="Loaded first", entity_id="lastfm:artist:9999")
    Listener.objects.create(lastfm_id=9_999)
    root = write_tiny_lastfm(tmp_path / "data")
    call_command("load_lastfm", data_dir=str(root), backend="sql", no_progress=True)
    learner = Listener.objects.create(user=get_user_model().objects.create_user(username="learner", password="x"))
    for n, artist in enumerate(Artist.objects.filter(lastfm_id__in=[1, 2, 3, 5]).order_by("lastfm_id")):
        Listen.objects.create(listener=learner, artist=artist, play_count=3 + n)
    return root, learner


@pytest.mark.django_db
@pytest.mark.parametrize("protocol", ["T", "C"])
def test_catalog_export_joins_back_to_the_lastfm_files_and_the_catalog(lastfm_catalog, tmp_path, protocol):
    from catalog.models import Artist, Listen, Listener

    root, learner = lastfm_catalog
    dataset = InteractionDataset.from_catalog()
    split = split_of(dataset, protocol, seed=0)
    tsv, sidecar = S.export_split(split, tmp_path / "split.tsv")
    rows = read_rows(tsv)
    source = {}
    with (root / "lastfm-kgcn" / "user_artists.dat").open(newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            source[(row["userID"], row["artistID"])] = float(row["weight"])
    listener_lastfm = dict(Listener.objects.values_list("pk", "lastfm_id"))
    artist_ids = {
        pk: (lastfm, entity) for pk, lastfm, entity in Artist.objects.values_list("pk", "lastfm_id", "entity_id")
    }
    joined = learner_rows = 0
    for row in rows:
        lastfm_user = listener_lastfm[int(row["listener_pk"])]
        assert row["lastfm_user_id"] == ("" if lastfm_user is None else str(lastfm_user))
        assert (int(row["lastfm_artist_id"]), row["artist_entity_id"]) == artist_ids[int(row["artist_pk"])]
        if float(row["weight"]) == 0:  # a sampled negative: the user never listened to it
            assert not Listen.objects.filter(
                listener_id=int(row["listener_pk"]), artist_id=int(row["artist_pk"])
            ).exists()
        elif lastfm_user is None:
            assert int(row["listener_pk"]) == learner.pk
            learner_rows += 1
        else:  # a Last.FM listen: the same (user, artist, play count) as in the source file
            assert source[(row["lastfm_user_id"], row["lastfm_artist_id"])] == float(row["weight"])
            joined += 1
    assert learner_rows == 4 and joined == len(source)
    # The case this format exists for: primary keys that are not the Last.FM ids.
    assert any(row["listener_pk"] != row["lastfm_user_id"] for row in rows if row["lastfm_user_id"])
    assert any(row["artist_pk"] != row["lastfm_artist_id"] for row in rows)
    meta = json.loads(sidecar.read_text())
    assert meta["learner_accounts"] == 1
    assert meta["lastfm_user_ids"][meta["user_ids"].index(learner.pk)] is None
    for reloaded in (S.import_split(tsv), S.import_split(tsv, dataset=dataset)):
        assert_same_split(split, reloaded)
        assert_same_sources(dataset.sources, reloaded.sources)
