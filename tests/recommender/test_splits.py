"""Seeded splits: disjointness, fractions, determinism, nesting, cold items, TSV round-trip and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from core.errors import DataFileError
from recommender.data import InteractionDataset
from recommender.evaluation import splits as S
from tests.helpers.recommender_data import synthetic_dataset


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
