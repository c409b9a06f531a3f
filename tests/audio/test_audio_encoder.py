"""Audio encoder: variant shapes, training/saving/reloading, determinism, artifact errors, neighbour logic.

Inputs are tiny: 12 "works" whose spectrograms are the real trumpet clip's log-mel plus synthetic
band patterns, a hand-made TransE-consistent target space (work = composer + COMPOSED + noise), a
one-second crop and two epochs. Everything here runs without the graph or the catalogue.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from django.conf import settings

from audio.cache import cached_log_mel
from audio.encoder.artifacts import ReferenceSpace, latest_audio_encoder, load_audio_encoder, save_audio_encoder
from audio.encoder.config import AudioEncoderConfig
from audio.encoder.dataset import SideVocabulary, mel_config_for, split_examples
from audio.encoder.metrics import hits_metrics, regression_metrics
from audio.encoder.model import AudioEncoder, available_variants
from audio.encoder.neighbours import rank_entities, shared_facts, sounds_like_explanation
from audio.encoder.service import likely_entities, predict_vector, similar_works
from audio.encoder.targets import load_target_space
from audio.encoder.training import train_audio_encoder
from core.errors import ConfigurationError, ModelArtifactError
from kg.schema import COMPOSED
from tests.helpers.audio_encoder import (
    DIM,
    TRUMPET,
    saved_tiny_encoder,
    tiny_config,
    tiny_examples,
    tiny_space,
    train_tiny,
)

pytestmark = pytest.mark.skipif(not TRUMPET.is_file(), reason=f"shared audio clip missing at {TRUMPET}")


@pytest.fixture(scope="module")
def trumpet_mel(tmp_path_factory) -> np.ndarray:
    return cached_log_mel(TRUMPET)


# --- the models ----------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", available_variants())
def test_every_variant_maps_a_batch_of_crops_to_target_vectors(variant):
    torch.manual_seed(0)
    frames = 44
    model = AudioEncoder(
        variant=variant,
        target_dim=DIM,
        n_mels=128,
        frames=frames,
        side_vocab_sizes={"composer": 3, "era": 2, "form": 2, "instrumentation": 3},
        channels=(4, 8, 16),
        lstm_hidden=8,
        hidden_dim=16,
        side_dim=4,
    )
    batch = {
        "mel": torch.randn(5, 128, frames),
        "side": {
            "composer": torch.tensor([0, 1, 2, 3, 1]),
            "era": torch.tensor([1, 2, 0, 1, 1]),
            "form": torch.tensor([1, 1, 2, 0, 0]),
            "instrumentation": torch.tensor([[1, 2, 0], [0, 0, 0], [3, 0, 0], [1, 1, 0], [2, 0, 0]]),
        },
    }
    model.train()
    prediction, auxiliary = model(batch)
    assert prediction.shape == (5, DIM)
    assert (float(auxiliary.detach()) > 0) == (variant == "autoencoder")  # only the autoencoder reconstructs
    assert model.predict(batch).shape == (5, DIM)
    if variant == "autoencoder":
        assert model.audio.reconstruct(model.audio.encode(batch["mel"])).shape == (5, 128, frames)


def test_unknown_variant_and_bad_config_values_are_refused():
    with pytest.raises(ConfigurationError, match="cnn_lstm"):
        AudioEncoderConfig(variant="transformer")
    with pytest.raises(ConfigurationError, match="epochs"):
        AudioEncoderConfig(epochs=0)
    with pytest.raises(ConfigurationError, match="side field"):
        AudioEncoderConfig(side_fields=("lyricist",))
    with pytest.raises(ConfigurationError, match="target"):
        AudioEncoderConfig(target="spotify")
    for bad in (float("inf"), -1e-4, "0.1", None):
        with pytest.raises(ConfigurationError, match="weight_decay must be a finite number"):
            AudioEncoderConfig(weight_decay=bad)
    for bad in ((), (8, 16, 32, 64, 128), (8, 0), (8, 2.5), (8, True), "8,16", 16):
        with pytest.raises(ConfigurationError, match="conv_channels must be 1 to 4 positive integers"):
            AudioEncoderConfig(conv_channels=bad)


# --- training, saving, reloading ----------------------------------------------------------------


def test_two_epoch_training_saves_reloads_and_predicts_the_same_vectors(trumpet_mel, tmp_path):
    trained = train_tiny(trumpet_mel)
    metrics = trained.metrics
    assert metrics["works"] == {
        "with_audio": 12,
        "without_target_vector": 0,
        "skipped": [],
        "train": 6,
        "validation": 3,
        "test": 3,
    }
    assert 1 <= metrics["best_epoch"] <= 2 and len(metrics["history"]) <= 2
    for key in ("mse", "rmse", "mae", "msle"):
        assert np.isfinite(metrics["test"][key])
    assert set(metrics["test"]["hits"]) == {"composer", "era", "form"}
    assert metrics["test"]["hits"]["composer"]["candidates"] == 3
    # the true target vectors recover their composer (the hand-made space is TransE-consistent)
    assert metrics["test_hits_of_true_target_vectors"]["composer"]["hits@1"] == 1.0

    path = save_audio_encoder(trained=trained, directory=tmp_path / "audio")
    assert {p.name for p in path.iterdir()} == {
        "config.json",
        "metrics.json",
        "model_state.pt",
        "reference.npz",
        "reference.json",
        "manifest.json",
    }
    loaded = load_audio_encoder(path)
    assert loaded.config == trained.config and loaded.version == path.name
    mel = tiny_examples(trumpet_mel)[0].mel
    side = {"composer": "Composer A"}
    before = predict_vector(loaded, mel, side)
    trained.model.eval()
    from audio.encoder.training import predict_examples

    by_slug = {e.slug: e for e in tiny_examples(trumpet_mel)}
    test_examples = [by_slug[slug] for slug in trained.split["test"]]
    np.testing.assert_allclose(
        predict_examples(loaded.model, loaded.vocabulary, test_examples, mel_config_for(loaded.config)),
        trained.predictions["test"],
        rtol=1e-5,
        atol=1e-6,
    )
    assert before.shape == (DIM,)
    guesses = likely_entities(loaded, before, k=2)
    assert set(guesses) == {"composer", "era", "form"} and len(guesses["composer"]) == 2
    assert similar_works(loaded, before, facts=side, k=3)[0].explanation.startswith("sounds like Work ")


def test_same_seed_same_predictions_other_seed_other_split(trumpet_mel):
    first, second = train_tiny(trumpet_mel, "cnn_lstm"), train_tiny(trumpet_mel, "cnn_lstm")
    np.testing.assert_array_equal(first.predictions["test"], second.predictions["test"])
    assert first.split == second.split
    assert train_tiny(trumpet_mel, "embedding_only", seed=1).split != first.split


def test_every_variant_trains_on_the_same_split(trumpet_mel):
    splits = {
        variant: train_tiny(trumpet_mel, variant, epochs=1).split["test"]
        for variant in ("autoencoder", "cnn", "embedding_only")
    }
    assert len({tuple(s) for s in splits.values()}) == 1


def test_too_few_works_with_target_vectors_is_a_clear_error(trumpet_mel):
    space = tiny_space()
    keep = [i for i in space.entity_ids if not i.startswith("work:") or i in {"work:0", "work:1"}]
    with pytest.raises(ConfigurationError, match="Only 2 of 12 works"):
        train_audio_encoder(
            config=tiny_config(), examples=tiny_examples(trumpet_mel), target_space=space.subset(keep), progress=False
        )


def test_split_is_by_work_seeded_and_disjoint(trumpet_mel):
    examples = tiny_examples(trumpet_mel)
    split = split_examples(examples, seed=3, validation_ratio=0.25, test_ratio=0.25)
    names = [{e.slug for e in part} for part in split.values()]
    assert sum(len(n) for n in names) == 12 and not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    assert split == split_examples(list(reversed(examples)), seed=3, validation_ratio=0.25, test_ratio=0.25)
    with pytest.raises(ConfigurationError, match="too few"):
        split_examples(examples[:3], seed=0, validation_ratio=0.25, test_ratio=0.25)


def test_side_vocabulary_maps_unseen_and_missing_values_to_unknown(trumpet_mel):
    vocabulary = SideVocabulary.build(tiny_examples(trumpet_mel), ("composer", "instrumentation"))
    encoded = vocabulary.encode({"composer": "composer b", "instrumentation": ["viola", "theremin"]})
    assert int(encoded["composer"]) == 2  # case-insensitive, 1-based
    assert encoded["instrumentation"].tolist()[:2] == [vocabulary.values["instrumentation"].index("viola") + 1, 0]
    assert int(vocabulary.encode({"composer": "Hildegard"})["composer"]) == 0
    assert int(vocabulary.encode({})["composer"]) == 0


# --- artifacts and targets ----------------------------------------------------------------------


def test_missing_or_corrupt_artifact_says_to_train(trumpet_mel, tmp_path):
    with pytest.raises(ModelArtifactError, match="train_audio_encoder"):
        latest_audio_encoder()
    with pytest.raises(ModelArtifactError, match="train_audio_encoder"):
        load_audio_encoder()
    path = saved_tiny_encoder(trumpet_mel, Path(settings.LEITMOTIF_ARTIFACTS_DIR) / "audio")
    assert latest_audio_encoder() == path
    broken = tmp_path / "broken"
    shutil.copytree(path, broken)
    (broken / "reference.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelArtifactError, match="does not match the manifest"):
        load_audio_encoder(broken)


def test_kge_target_without_an_artifact_says_to_train_the_kge():
    with pytest.raises(ModelArtifactError, match="train_kge --model transe"):
        load_target_space(AudioEncoderConfig(), relations=(COMPOSED,), item_ids=["leitmotif:work:x"])


@pytest.mark.django_db
def test_wmf_target_is_refused_because_no_item_has_both_audio_and_listens():
    with pytest.raises(ConfigurationError, match="Last.FM artists, which have no audio"):
        load_target_space(AudioEncoderConfig(target="wmf"), relations=(), item_ids=["leitmotif:work:bach-bwv1-6"])


# --- neighbour logic on a hand-made space ---------------------------------------------------------


def test_transe_ranking_puts_the_entity_whose_relation_lands_on_the_vector_first():
    relation = np.array([1.0, 0.0], dtype=np.float32)
    candidates = np.array([[0.0, 0.0], [0.0, 2.0], [5.0, 5.0]], dtype=np.float32)
    work = np.array([0.0, 3.0], dtype=np.float32)  # = candidate 1 + relation (up to 1 in L1)
    ranked = rank_entities(
        "transe",
        candidate_ids=["a", "b", "c"],
        candidates=candidates,
        relation=relation,
        vector=work,
        vector_is_head=False,
    )
    assert [r.entity_id for r in ranked] == ["b", "a", "c"] and [r.rank for r in ranked] == [1, 2, 3]
    assert ranked[0].score == pytest.approx(-2.0)  # -|0+1-0| - |2+0-3|
    # as head: work + relation ≈ tail
    ranked = rank_entities(
        "transe",
        candidate_ids=["a", "b", "c"],
        candidates=np.array([[1.0, 3.0], [9.0, 9.0], [0.0, 0.0]], np.float32),
        relation=relation,
        vector=work,
        vector_is_head=True,
        k=1,
    )
    assert [r.entity_id for r in ranked] == ["a"]
    cosine_ranked = rank_entities(
        "cosine",
        candidate_ids=["x", "y"],
        candidates=np.array([[1.0, 0.0], [0.0, 1.0]], np.float32),
        relation=None,
        vector=np.array([0.1, 1.0], np.float32),
        vector_is_head=True,
    )
    assert cosine_ranked[0].entity_id == "y"


def test_complex_scoring_prefers_the_matching_tail():
    # ComplEx with r = 1 + 0i: score(h, r, t) = Re(<h, conj t>) is largest for t = h.
    h = np.array([1.0, 0.0, 0.0, 1.0], np.float32)  # real [1, 0], imaginary [0, 1]
    candidates = np.array([[1.0, 0.0, 0.0, 1.0], [-1.0, 0.0, 0.0, -1.0]], np.float32)
    ranked = rank_entities(
        "complex",
        candidate_ids=["same", "opposite"],
        candidates=candidates,
        relation=np.array([1.0, 1.0, 0.0, 0.0], np.float32),
        vector=h,
        vector_is_head=True,
    )
    assert ranked[0].entity_id == "same" and ranked[0].score == pytest.approx(2.0)


def test_hits_and_regression_metrics_on_a_hand_made_space():
    space = tiny_space()
    reference = ReferenceSpace(
        "transe",
        space.entity_ids,
        space.vectors,
        dict(space.relation_vectors),
        {},
        {},
        {"composer": ("person:0", "person:1", "person:2")},
    )
    truths = [{"composer": f"person:{i % 3}"} for i in range(6)]
    exact = np.stack([space.vector(f"work:{i}") for i in range(6)])
    hits = hits_metrics(exact, truths, reference=reference)["composer"]
    assert hits["hits@1"] == 1.0 and hits["evaluated"] == 6 and hits["chance@1"] == pytest.approx(1 / 3)
    shuffled = hits_metrics(exact[[1, 2, 0, 4, 5, 3]], truths, reference=reference)["composer"]
    assert shuffled["hits@1"] == 0.0 and shuffled["mean_rank"] > 1
    truth = np.array([[-0.5, 0.2], [0.1, -0.3]], np.float32)
    perfect = regression_metrics(truth, truth, shift=0.5)
    assert perfect == {"mse": 0.0, "rmse": 0.0, "mae": 0.0, "msle": 0.0}
    off = regression_metrics(truth, truth + 0.1, shift=0.5)
    assert off["mse"] == pytest.approx(0.01) and off["mae"] == pytest.approx(0.1) and off["msle"] > 0
    assert np.isfinite(
        regression_metrics(truth, truth - 5.0, shift=0.5)["msle"]
    )  # predictions below the shift are clipped


def test_explanations_name_what_two_works_share():
    assert (
        shared_facts({"era": "Baroque", "form": "Chorale"}, {"era": "Baroque", "form": "Chorale"})
        == "both Baroque chorales"
    )
    assert (
        shared_facts({"era": "Renaissance", "form": "Mass"}, {"era": "Renaissance", "form": "Mass", "composer": "X"})
        == "both Renaissance masses"
    )
    assert (
        shared_facts({"era": "Classical", "composer": "Joseph Haydn"}, {"era": "Classical", "composer": "Joseph Haydn"})
        == "both from the Classical era by Joseph Haydn"
    )
    assert shared_facts({"era": "Baroque"}, {"era": "Romantic"}) == ""
    assert sounds_like_explanation("BWV 1.6", 0.8312, "both Baroque chorales") == (
        "sounds like BWV 1.6: predicted vector close to BWV 1.6's (cosine 0.83); both Baroque chorales"
    )


@pytest.mark.django_db
def test_the_training_command_turns_a_missing_kge_artifact_into_one_line(sql_store):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=r"train_kge --model transe") as caught:
        call_command("train_audio_encoder", "--epochs", "1", "--backend", "sql", "--no-progress")
    assert "\n" not in str(caught.value)
    with pytest.raises(CommandError):
        call_command("train_audio_encoder", "--variant", "transformer")
