"""Knowledge-graph embeddings: config, splits, training, artifacts, readers and the train_kge command.

Training runs on a tiny synthetic music graph (a few dozen triples) for 2 epochs with 8-dimensional
vectors, so each run takes about a second; results are shared per module where a test only reads them.
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command

from core.errors import ConfigurationError, DataFileError, InvalidGraphDataError
from kg.embeddings.artifacts import (
    ENTITY_EMBEDDINGS_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    MODEL_STATE_FILE,
    latest_artifact,
    list_kge_artifacts,
    load_kge_artifact,
    load_kge_model,
    save_kge_artifact,
)
from kg.embeddings.config import KgeConfig, available_models, resolve_model_name
from kg.embeddings.sources import (
    INTERACTION_RELATION,
    dbpedia_music_split,
    interaction_triples_from_catalog,
    read_dbpedia_triples,
    read_kgcn_triples,
    triples_from_store,
)
from kg.embeddings.training import build_model, export_embeddings, kge_train
from kg.embeddings.triples import as_labeled_triples, deduplicated_split, split_labeled_triples
from kg.stores.base import EntityRecord, RelationRecord
from tests.helpers.kge_graphs import music_graph, tiny_config

FIXTURES = Path(__file__).parent / "fixtures"
DBPEDIA_TINY = FIXTURES / "dbpedia_tiny"
RESOURCE = "http://dbpedia.org/resource/"
ONTOLOGY = "http://dbpedia.org/ontology/"


@pytest.fixture(scope="module")
def transe_result():
    return kge_train(triples=music_graph(), config=tiny_config(), progress=False)


# --- config -------------------------------------------------------------------------------------


def test_config_resolves_aliases_to_versioned_names_and_model_default_losses():
    assert available_models() == ["complex", "transe"]
    assert KgeConfig(model="TransE").model == "kge.transe.v1"
    assert KgeConfig(model="kge.complex.v1").loss == "softplus"
    assert KgeConfig(model="transe").loss == "marginranking"
    assert resolve_model_name("complex") == "kge.complex.v1"


def test_unknown_model_lists_the_choices():
    with pytest.raises(ConfigurationError, match=r"Unknown embedding model 'rotate'.*transe.*complex"):
        KgeConfig(model="rotate")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"embedding_dim": 0}, "embedding_dim must be an integer at least 1"),
        ({"embedding_dim": True}, "embedding_dim must be an integer"),
        ({"epochs": -1}, "epochs must be an integer at least 1"),
        ({"batch_size": 2.5}, "batch_size must be an integer"),
        ({"negatives_per_positive": 0}, "negatives_per_positive"),
        ({"learning_rate": 0.0}, "learning_rate must be a positive finite number"),
        ({"learning_rate": float("nan")}, "learning_rate must be a positive finite number"),
        ({"seed": -3}, "seed must be an integer between 0"),
        ({"loss": "hinge"}, "Unknown loss 'hinge'; choose one of: marginranking"),
        ({"split_ratios": (0.8, 0.1, 0.2)}, "split_ratios must sum to 1"),
        ({"split_ratios": (0.9, 0.1)}, "split_ratios must be three numbers"),
        ({"split_ratios": (1.0, 0.0, 0.0)}, "strictly between 0 and 1"),
        ({"include_interactions": "yes"}, "include_interactions must be true or false"),
    ],
)
def test_invalid_config_values_are_rejected_with_what_to_fix(overrides, message):
    with pytest.raises(ConfigurationError, match=message):
        tiny_config(**overrides)


def test_config_json_round_trip_and_hash():
    config = tiny_config(model="complex", split_ratios=[0.7, 0.2, 0.1], include_interactions=True)
    restored = KgeConfig.from_json(config.to_json())
    assert restored == config
    assert restored.config_hash() == config.config_hash()
    assert tiny_config(seed=8).config_hash() != tiny_config().config_hash()
    assert json.loads(config.to_json())["seed"] == 7


def test_config_from_dict_rejects_unknown_keys_and_bad_json():
    with pytest.raises(ConfigurationError, match="Unknown KGE config key.*dimension"):
        KgeConfig.from_dict({"model": "transe", "dimension": 64})
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        KgeConfig.from_json("{model: transe")


# --- triples and splits -------------------------------------------------------------------------


def test_labeled_triples_are_validated_and_deduplicated():
    rows = as_labeled_triples([("a", "R", "b"), ("a", "R", "b"), ("b", "R", "c")])
    assert rows.tolist() == [["a", "R", "b"], ["b", "R", "c"]]
    with pytest.raises(InvalidGraphDataError, match="row 1: head, relation and tail must be non-empty"):
        as_labeled_triples(np.asarray([("a", "R", "b"), ("a", " ", "c")], dtype=str))
    with pytest.raises(InvalidGraphDataError, match="must be a string"):
        as_labeled_triples([("a", "R", None)])
    with pytest.raises(InvalidGraphDataError, match=r"\(n × 3\)"):
        as_labeled_triples([("a", "R")])


def test_split_shares_id_maps_and_every_evaluated_entity_is_trained():
    split = split_labeled_triples(triples=music_graph(), ratios=(0.8, 0.1, 0.1), seed=3)
    assert split.validation.entity_to_id == split.testing.entity_to_id == split.training.entity_to_id
    assert split.validation.relation_to_id == split.training.relation_to_id
    trained = set(split.training.mapped_triples[:, [0, 2]].flatten().tolist())
    for part in (split.validation, split.testing):
        assert part.num_triples > 0
        assert set(part.mapped_triples[:, [0, 2]].flatten().tolist()) <= trained
    total = split.training.num_triples + split.validation.num_triples + split.testing.num_triples
    assert total == len(music_graph())


def test_interactions_join_training_only():
    interactions = np.asarray(
        [("user:1", INTERACTION_RELATION, "artist:0"), ("user:2", INTERACTION_RELATION, "artist:5")], dtype=str
    )
    split = split_labeled_triples(
        triples=music_graph(), ratios=(0.8, 0.1, 0.1), seed=3, extra_training_triples=interactions
    )
    interacts = split.relation_to_id[INTERACTION_RELATION]
    assert "user:1" in split.entity_to_id
    assert (split.training.mapped_triples[:, 1] == interacts).sum() == 2
    for part in (split.validation, split.testing):
        assert (part.mapped_triples[:, 1] != interacts).all()
    assert (
        split.training.num_triples + split.validation.num_triples + split.testing.num_triples == len(music_graph()) + 2
    )


def test_too_small_or_empty_graphs_cannot_be_split():
    with pytest.raises(InvalidGraphDataError, match="no triples to train on"):
        split_labeled_triples(triples=np.empty((0, 3), dtype=str), ratios=(0.8, 0.1, 0.1), seed=1)
    with pytest.raises(InvalidGraphDataError, match="Use a larger graph|part empty"):
        split_labeled_triples(triples=music_graph()[:3], ratios=(0.8, 0.1, 0.1), seed=1)


# --- training -----------------------------------------------------------------------------------


def test_training_returns_finite_metrics_and_aligned_embeddings(transe_result):
    result = transe_result
    metrics = result.metrics
    for value in (metrics.mrr, metrics.hits_at_1, metrics.hits_at_3, metrics.hits_at_10):
        assert np.isfinite(value) and 0.0 <= value <= 1.0
    assert metrics.hits_at_1 <= metrics.hits_at_3 <= metrics.hits_at_10
    assert metrics.num_triples == result.split_sizes["testing"]
    assert result.entity_embeddings.shape == (len(result.entity_to_id), 8)
    assert result.relation_embeddings.shape == (3, 8)
    assert result.entity_embeddings.dtype == np.float32 and np.isfinite(result.entity_embeddings).all()
    assert sorted(result.entity_to_id.values()) == list(range(len(result.entity_to_id)))
    assert result.epochs_trained == 2 and all(np.isfinite(result.epoch_losses))


def test_same_seed_gives_identical_embeddings(transe_result):
    again = kge_train(triples=music_graph(), config=tiny_config(), progress=False)
    np.testing.assert_array_equal(again.entity_embeddings, transe_result.entity_embeddings)
    np.testing.assert_array_equal(again.relation_embeddings, transe_result.relation_embeddings)
    assert again.metrics == transe_result.metrics
    other_seed = kge_train(triples=music_graph(), config=tiny_config(seed=8), progress=False)
    assert not np.array_equal(other_seed.entity_embeddings, transe_result.entity_embeddings)


def test_complex_exports_real_and_imaginary_parts_side_by_side():
    result = kge_train(triples=music_graph(), config=tiny_config(model="complex"), progress=False)
    assert result.entity_embeddings.shape == (len(result.entity_to_id), 16)
    complex_vectors = result.model.entity_representations[0](indices=None).detach()
    np.testing.assert_allclose(result.entity_embeddings[:, :8], complex_vectors.real.numpy())
    np.testing.assert_allclose(result.entity_embeddings[:, 8:], complex_vectors.imag.numpy())


def test_interactions_need_the_config_switch():
    interactions = np.asarray([("user:1", INTERACTION_RELATION, "artist:0")], dtype=str)
    with pytest.raises(ConfigurationError, match="include_interactions is off"):
        kge_train(triples=music_graph(), config=tiny_config(), interaction_triples=interactions)
    with pytest.raises(ConfigurationError, match="no interaction triples were given"):
        kge_train(triples=music_graph(), config=tiny_config(include_interactions=True))
    result = kge_train(
        triples=music_graph(), config=tiny_config(include_interactions=True, epochs=1), interaction_triples=interactions
    )
    assert "user:1" in result.entity_to_id and INTERACTION_RELATION in result.relation_to_id


@pytest.mark.parametrize("model", ["transe", "complex"])
def test_fast_rank_all_scoring_equals_pykeen_scoring(model):
    """The cdist/matmul ranking shortcuts must give PyKEEN's own scores for every entity."""
    from pykeen.nn.modules import ComplExInteraction, TransEInteraction

    config = tiny_config(model=model)
    fast = build_model(config=config, num_entities=40, num_relations=3)
    reference = build_model(config=config, num_entities=40, num_relations=3)
    reference.load_state_dict(fast.state_dict())
    reference.interaction = TransEInteraction(p=1) if model == "transe" else ComplExInteraction()
    assert type(fast.interaction) is not type(reference.interaction)
    hr = torch.tensor([[0, 1], [5, 2], [39, 0]])
    rt = torch.tensor([[0, 7], [2, 39], [1, 0]])
    hrt = torch.tensor([[0, 1, 2], [5, 2, 9]])
    with torch.no_grad():
        torch.testing.assert_close(fast.score_t(hr), reference.score_t(hr))
        torch.testing.assert_close(fast.score_h(rt), reference.score_h(rt))
        torch.testing.assert_close(fast.score_hrt(hrt), reference.score_hrt(hrt))


def test_early_stopping_on_validation_runs_and_reports_epochs():
    config = tiny_config(epochs=6, early_stopping=True, early_stopping_frequency=1, early_stopping_patience=1)
    result = kge_train(triples=music_graph(), config=config, progress=False)
    assert 1 <= result.epochs_trained <= 6
    assert 0.0 <= result.metrics.mrr <= 1.0


# --- artifacts ----------------------------------------------------------------------------------


def test_artifact_round_trip_is_identical(transe_result, tmp_path):
    path = save_kge_artifact(result=transe_result, directory=tmp_path)
    assert (
        path.parent == tmp_path
        and path.name.startswith("transe-")
        and path.name.endswith(transe_result.config.config_hash())
    )
    artifact = load_kge_artifact(path)
    assert artifact.config == transe_result.config
    assert artifact.entity_to_id == transe_result.entity_to_id
    assert artifact.relation_to_id == transe_result.relation_to_id
    np.testing.assert_array_equal(artifact.entity_embeddings, transe_result.entity_embeddings)
    np.testing.assert_array_equal(artifact.relation_embeddings, transe_result.relation_embeddings)
    assert artifact.metrics["evaluations"]["test"] == transe_result.metrics.to_dict()
    model = load_kge_model(artifact)
    entities, relations = export_embeddings(model)
    np.testing.assert_array_equal(entities, transe_result.entity_embeddings)
    np.testing.assert_array_equal(relations, transe_result.relation_embeddings)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir()), "no partial directory may be left behind"


def test_latest_artifact_picks_the_newest_of_that_model(transe_result, tmp_path):
    with pytest.raises(DataFileError, match="No transe embedding artifact yet.*train_kge --model transe"):
        latest_artifact("transe", directory=tmp_path)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    older = save_kge_artifact(result=transe_result, directory=tmp_path, now=start)
    newer = save_kge_artifact(result=transe_result, directory=tmp_path, now=start + timedelta(hours=1))
    (tmp_path / ".transe-ignored.partial-1").mkdir()
    assert list_kge_artifacts("transe", directory=tmp_path) == [older, newer]
    assert latest_artifact("kge.transe.v1", directory=tmp_path) == newer
    assert list_kge_artifacts("complex", directory=tmp_path) == []
    with pytest.raises(DataFileError, match="already exists"):
        save_kge_artifact(result=transe_result, directory=tmp_path, now=start)


@pytest.fixture
def saved_artifact(transe_result, tmp_path) -> Path:
    return save_kge_artifact(result=transe_result, directory=tmp_path)


def test_missing_artifact_file_is_named(saved_artifact):
    (saved_artifact / ENTITY_EMBEDDINGS_FILE).unlink()
    with pytest.raises(DataFileError, match=rf"{ENTITY_EMBEDDINGS_FILE}: artifact file is missing"):
        load_kge_artifact(saved_artifact)


def test_corrupt_artifact_file_fails_its_checksum(saved_artifact):
    state = saved_artifact / MODEL_STATE_FILE
    state.write_bytes(state.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(DataFileError, match=rf"{MODEL_STATE_FILE}: checksum does not match"):
        load_kge_artifact(saved_artifact)


def test_corrupt_manifest_and_missing_directory_are_clear_errors(saved_artifact, tmp_path):
    with pytest.raises(DataFileError, match="artifact directory not found.*train_kge"):
        load_kge_artifact(tmp_path / "nothing-here")
    (saved_artifact / MANIFEST_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(DataFileError, match=rf"{MANIFEST_FILE}: not valid JSON"):
        load_kge_artifact(saved_artifact)


def test_edited_metrics_are_detected(saved_artifact):
    metrics = saved_artifact / METRICS_FILE
    metrics.write_text(metrics.read_text(encoding="utf-8").replace('"mrr"', '"mrr_edited"'), encoding="utf-8")
    with pytest.raises(DataFileError, match="checksum does not match"):
        load_kge_artifact(saved_artifact)


# --- file readers -------------------------------------------------------------------------------


def test_dbpedia_reader_strips_iri_brackets_and_predicate_quotes():
    triples = read_dbpedia_triples(DBPEDIA_TINY / "music_mte10-train.tsv.gz")
    assert triples.shape == (15, 3)
    assert tuple(triples[0]) == (f"{RESOURCE}ABBA", f"{ONTOLOGY}genre", f"{RESOURCE}Pop_music")
    assert f"{RESOURCE}Björn_Ulvaeus" in set(triples[:, 0])


def test_dbpedia_standard_split_shares_maps_and_drops_unseen_entities():
    split = dbpedia_music_split(directory=DBPEDIA_TINY)
    assert split.training.num_triples == 14  # 15 lines, one repeated
    assert split.testing.entity_to_id == split.training.entity_to_id
    assert split.validation.num_triples == 2
    assert split.testing.num_triples == 4  # 6 lines: one repeated, one naming Unknown_Artist (never in training)
    assert split.dropped["training_repeated"] == 1
    assert split.dropped["testing_repeated"] == 1
    assert split.dropped["testing_unseen_in_training"] == 1


def test_dbpedia_deduplicated_split_drops_triples_training_already_implies():
    split = dbpedia_music_split(directory=DBPEDIA_TINY, deduplicated=True)
    labels = {v: k for k, v in split.entity_to_id.items()}
    relations = {v: k for k, v in split.relation_to_id.items()}

    def labeled(part):
        return {
            (labels[h].rsplit("/", 1)[1], relations[r].rsplit("/", 1)[1], labels[t].rsplit("/", 1)[1])
            for h, r, t in part.mapped_triples.tolist()
        }

    # Per_Gessle associatedMusicalArtist Roxette: same pair as associatedBand in training; ABBA genre Disco: verbatim.
    # The repeated Björn_Ulvaeus line was already collapsed when the split was built.
    assert labeled(split.testing) == {
        ("Björn_Ulvaeus", "genre", "Pop_music"),
        ("Roxette", "recordLabel", "Polar_Music"),
    }
    assert labeled(split.validation) == {("Marie_Fredriksson", "genre", "Pop_rock")}
    assert split.dropped["testing_pair_in_training"] == 2
    assert split.dropped["testing_verbatim_in_training"] == 1
    assert split.dropped["validation_pair_in_training"] == 1
    assert split.training.num_triples == 14
    assert deduplicated_split(split).testing.num_triples == 2  # idempotent


def _write_dbpedia_file(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


GOOD_LINE = f'<{RESOURCE}ABBA>\t"<{ONTOLOGY}genre>"\t<{RESOURCE}Disco>'


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        (
            f"<{RESOURCE}ABBA>\t<{ONTOLOGY}genre>\t<{RESOURCE}Disco>",
            "predicate must be an IRI in angle brackets wrapped in double quotes",
        ),
        (f'<{RESOURCE}ABBA>\t"<{ONTOLOGY}genre>"', "expected 3 tab-separated fields"),
        (f'{RESOURCE}ABBA\t"<{ONTOLOGY}genre>"\t<{RESOURCE}Disco>', "subject must be an IRI"),
        (f'<{RESOURCE}ABBA>\t"<{ONTOLOGY}genre>"\t<{RESOURCE}Disco music>', "object must be an IRI"),
    ],
)
def test_malformed_dbpedia_line_names_file_and_line(tmp_path, bad_line, message):
    path = _write_dbpedia_file(tmp_path / "music_mte10-test.tsv", [GOOD_LINE, GOOD_LINE, bad_line, GOOD_LINE])
    with pytest.raises(DataFileError, match=rf"music_mte10-test\.tsv:3: {message}") as caught:
        read_dbpedia_triples(path)
    assert caught.value.line == 3 and caught.value.path == str(path)


def test_missing_or_broken_dbpedia_files_are_clear_errors(tmp_path):
    for name in ("music_mte10-valid.tsv", "music_mte10-test.tsv"):
        shutil.copy(DBPEDIA_TINY / name, tmp_path / name)
    with pytest.raises(DataFileError, match=r"Missing DBpedia music benchmark file 'music_mte10-train.tsv.gz'"):
        dbpedia_music_split(directory=tmp_path)
    (tmp_path / "music_mte10-train.tsv.gz").write_bytes(b"this is not gzip")
    with pytest.raises(DataFileError, match="music_mte10-train.tsv.gz: cannot be read: Not a gzipped file"):
        dbpedia_music_split(directory=tmp_path)
    with gzip.open(tmp_path / "music_mte10-train.tsv.gz", "wb") as handle:
        handle.write((GOOD_LINE + "\n").encode() + b"<\xff\xfe>\tbad\n")
    with pytest.raises(DataFileError, match="music_mte10-train.tsv.gz:2: not valid UTF-8"):
        dbpedia_music_split(directory=tmp_path)


def test_kgcn_reader_keeps_labels_and_handles_crlf(tmp_path):
    path = tmp_path / "kg.txt"
    path.write_bytes(b"2086\tmusic.artist.origin\t3846\r\n1601\tfilm.actor.film\t3847\r\n")
    assert read_kgcn_triples(path).tolist() == [
        ["2086", "music.artist.origin", "3846"],
        ["1601", "film.actor.film", "3847"],
    ]
    path.write_bytes(b"2086\tmusic.artist.origin\t3846\r\n1601\t\t3847\r\n")
    with pytest.raises(DataFileError, match=r"kg.txt:2: empty head, relation or tail"):
        read_kgcn_triples(path)


# --- graph store and command --------------------------------------------------------------------


def _fill_store(store, triples: np.ndarray) -> None:
    ids = sorted(set(triples[:, 0]) | set(triples[:, 2]))
    store.upsert_entities(EntityRecord(id=i, type=i.split(":")[0].capitalize(), name=i) for i in ids)
    store.upsert_relations(RelationRecord(head=h, type=r, tail=t, source="test") for h, r, t in triples)


def test_triples_from_store_streams_every_relation(sql_store):
    assert triples_from_store(store=sql_store).shape == (0, 3)
    graph = music_graph()
    _fill_store(sql_store, graph)
    triples = triples_from_store(store=sql_store)
    assert triples.shape == graph.shape
    assert sorted(map(tuple, triples.tolist())) == sorted(map(tuple, graph.tolist()))


def test_train_kge_command_saves_an_artifact(sql_store, tmp_path, capsys):
    _fill_store(sql_store, music_graph())
    call_command(
        "train_kge",
        "--model",
        "transe",
        "--epochs",
        "1",
        "--dim",
        "8",
        "--seed",
        "5",
        "--backend",
        "sql",
        "--output-dir",
        str(tmp_path),
        "--no-progress",
    )
    output = capsys.readouterr().out
    assert "MRR" in output and "Hits@10" in output
    artifact = load_kge_artifact(latest_artifact("transe", directory=tmp_path))
    assert str(artifact.path) in output
    assert artifact.config.seed == 5 and artifact.config.epochs == 1 and artifact.config.embedding_dim == 8
    assert len(artifact.entity_to_id) == 24 + 3 + 3


def _listen(*, listener_lastfm_id: int, artist_lastfm_id: int, entity_id: str):
    from catalog.models import Artist, Listen, Listener

    listener, _ = Listener.objects.get_or_create(lastfm_id=listener_lastfm_id)
    artist, _ = Artist.objects.get_or_create(
        lastfm_id=artist_lastfm_id, defaults={"name": entity_id, "entity_id": entity_id}
    )
    Listen.objects.create(listener=listener, artist=artist, play_count=3)
    return listener


def test_interaction_triples_come_from_catalog_listens(db):
    first = _listen(listener_lastfm_id=10, artist_lastfm_id=1, entity_id="artist:1")
    second = _listen(listener_lastfm_id=11, artist_lastfm_id=2, entity_id="artist:2")
    _listen(listener_lastfm_id=11, artist_lastfm_id=99, entity_id="artist:not-in-graph")
    triples = interaction_triples_from_catalog(artist_entity_ids={"artist:1", "artist:2"})
    assert triples.tolist() == [
        [f"user:{first.pk}", INTERACTION_RELATION, "artist:1"],
        [f"user:{second.pk}", INTERACTION_RELATION, "artist:2"],
    ]
    assert len(interaction_triples_from_catalog()) == 3


def test_train_kge_command_with_interactions(sql_store, tmp_path):
    _fill_store(sql_store, music_graph())
    command = (
        "train_kge",
        *("--model", "transe", "--epochs", "1", "--dim", "8", "--include-interactions"),
        *("--backend", "sql", "--output-dir", str(tmp_path), "--no-progress"),
    )
    with pytest.raises(CommandError, match="needs listening data.*load_lastfm"):
        call_command(*command)
    listener = _listen(listener_lastfm_id=10, artist_lastfm_id=1, entity_id="artist:1")
    call_command(*command)
    artifact = load_kge_artifact(latest_artifact("transe", directory=tmp_path))
    assert artifact.config.include_interactions is True
    assert f"user:{listener.pk}" in artifact.entity_to_id
    assert INTERACTION_RELATION in artifact.relation_to_id


def test_train_kge_command_on_empty_graph_says_to_load_first(sql_store, tmp_path):
    with pytest.raises(CommandError, match="empty; run `python manage.py load_lastfm` first"):
        call_command(
            "train_kge", "--model", "complex", "--backend", "sql", "--output-dir", str(tmp_path), "--no-progress"
        )
    assert not list(tmp_path.iterdir())


def test_train_kge_command_turns_bad_options_into_command_errors(sql_store, tmp_path):
    _fill_store(sql_store, music_graph())
    with pytest.raises(CommandError, match=r"\[E001\] embedding_dim must be an integer at least 1"):
        call_command("train_kge", "--model", "transe", "--dim", "0", "--backend", "sql", "--output-dir", str(tmp_path))


def test_torch_threads_are_capped(transe_result):
    assert torch.get_num_threads() <= 2
