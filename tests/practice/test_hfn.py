"""HFN: shapes, the attention re-weighting S = |X|·A, a tiny real training run, artifacts, the rule baseline.

The data are real FluidSynth renders of small hand-built scores (a tiny config so the file runs in
seconds on one thread).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from audio import render as audio_render
from core.errors import ConfigurationError, ModelArtifactError
from practice.hfn.artifacts import list_hfns, load_hfn, save_hfn
from practice.hfn.baseline import BASELINE_FEATURES, fit_rule_baseline
from practice.hfn.config import HFNConfig, preset
from practice.hfn.dataset import build_dataset
from practice.hfn.model import build_model
from practice.hfn.training import feedback_for_audio, predict_levels, train_hfn
from practice.synthesis import FEEDBACK_DIMENSIONS

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not Path(audio_render.DEFAULT_SOUNDFONT).is_file(),
    reason="FluidSynth or FluidR3_GM missing: run scripts/install_system_deps.sh",
)
CLIP = Path(__file__).resolve().parents[3] / "shared" / "data" / "librosa-audio-clips" / "trumpet.ogg"


def scale_score(start: int, bpm: int, minor: bool):
    from music21 import dynamics, key, meter, note, stream, tempo

    part = stream.Part()
    steps = [0, 2, 3, 5, 7, 8, 10, 12] if minor else [0, 2, 4, 5, 7, 9, 11, 12]
    for bar in range(3):
        measure = stream.Measure(number=bar + 1)
        if bar == 0:
            measure.insert(0, meter.TimeSignature("4/4"))
            measure.insert(0, tempo.MetronomeMark(number=bpm))
            measure.insert(0, key.Key("a" if minor else "C"))
            measure.insert(0, dynamics.Dynamic("p" if minor else "f"))
        for k in range(4):
            pitch = note.Note(quarterLength=1.0)
            pitch.pitch.midi = start + steps[(bar * 4 + k) % 8]
            measure.append(pitch)
        part.append(measure)
    score = stream.Score()
    score.insert(0, part)
    return score


@pytest.fixture(scope="module")
def tiny_data():
    config = preset("tiny", works=6)
    scores = [(f"scale-{i}", scale_score(55 + 2 * i, 90 + 15 * i, i % 2 == 1)) for i in range(6)]
    return config, build_dataset(config, scores=scores, cache=False)


def test_forward_shapes_and_attention_map():
    config = preset("tiny")
    model = build_model(config).eval()
    magnitude = torch.rand(3, config.n_mels, config.frames)
    factors = torch.tensor([[0, 1, 2, 3], [1, 2, 0, 0], [2, 0, 1, 4]])
    intended = torch.tensor([[0.5, 0.1], [-0.3, 0.2], [0.0, -0.6]])
    logits, emotion = model(magnitude, factors, intended)
    assert logits.shape == (3, len(FEEDBACK_DIMENSIONS), 3) and emotion.shape == (3, 2)
    assert torch.all(emotion.abs() <= 1)
    attention = model.attention_map(magnitude, factors, intended)
    assert attention.shape == magnitude.shape and torch.all((attention > 0) & (attention < 2))
    ablation = build_model(HFNConfig(**{**config.to_dict(), "variant": "no_attention"})).eval()
    assert torch.equal(ablation.attention_map(magnitude, factors, intended), torch.ones_like(magnitude))


def test_attention_reweights_the_spectrogram_s_equals_x_times_a():
    """The attention model on |X| equals the same weights without attention on |X|·A."""
    config = preset("tiny")
    torch.manual_seed(0)
    model = build_model(config).eval()
    assert model.attention is not None
    with torch.no_grad():  # a non-trivial A
        model.attention.frequency.weight.normal_(0, 0.5)
        model.attention.time_gate.weight.normal_(0, 0.5)
    ablation = build_model(HFNConfig(**{**config.to_dict(), "variant": "hfn.no_attention.v1"})).eval()
    shared = {k: v for k, v in model.state_dict().items() if not k.startswith("attention.")}
    ablation.load_state_dict(shared)
    magnitude = torch.rand(2, config.n_mels, config.frames)
    factors = torch.tensor([[0, 1, 2, 3], [2, 2, 0, 1]])
    intended = torch.tensor([[0.8, -0.2], [-0.5, 0.9]])
    with torch.no_grad():
        attention = model.attention_map(magnitude, factors, intended)
        assert float(attention.std()) > 0.01
        expected = ablation(magnitude * attention, factors, intended)
        actual = model(magnitude, factors, intended)
        plain = ablation(magnitude, factors, intended)
    torch.testing.assert_close(actual[0], expected[0])
    torch.testing.assert_close(actual[1], expected[1])
    assert not torch.allclose(actual[0], plain[0])


def test_bad_configs_are_refused_with_the_field_name():
    with pytest.raises(ConfigurationError, match="HFN variant"):
        HFNConfig(variant="transformer")
    with pytest.raises(ConfigurationError, match="16000"):
        HFNConfig(sample_rate=22050)
    with pytest.raises(ConfigurationError, match="conv_channels"):
        HFNConfig(conv_channels=(4, 0))
    with pytest.raises(ConfigurationError, match="lamda"):
        HFNConfig.from_dict({"lamda": 1})
    with pytest.raises(ConfigurationError, match="preset"):
        preset("huge")


@needs_fluidsynth
def test_dataset_is_split_by_work(tiny_data):
    config, data = tiny_data
    assert data.magnitude.shape[1:] == (config.n_mels, config.frames)
    assert data.labels.shape == (len(data.works), len(FEEDBACK_DIMENSIONS))
    assert data.features.shape == (len(data.works), len(BASELINE_FEATURES))
    works = {name: set(data.works[data.indices(name)]) for name in ("train", "validation", "test")}
    assert works["train"] and works["test"]
    assert not (works["train"] & works["test"] or works["train"] & works["validation"])


@needs_fluidsynth
def test_tiny_training_reduces_loss_and_artifact_round_trips(tiny_data, tmp_path, settings):
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path)
    config, data = tiny_data
    trained = train_hfn(config, data)
    history = trained.metrics["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert set(trained.metrics["test"]) >= set(FEEDBACK_DIMENSIONS) | {"affect", "mean_macro_f1"}
    again = train_hfn(config, data)  # same seed, same data: the same weights
    for key, value in trained.model.state_dict().items():
        torch.testing.assert_close(value, again.model.state_dict()[key])
    path = save_hfn(trained)
    assert list_hfns() == [path] and path.name.startswith("hfn.attention.v1-")
    loaded = load_hfn()
    assert loaded.config == config and loaded.metrics["best_epoch"] == trained.metrics["best_epoch"]
    rows = np.arange(len(data.works))
    before, after = predict_levels(trained.model, data, rows), predict_levels(loaded.model, data, rows)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_allclose(before[1], after[1], atol=1e-6)
    (path / "model_state.pt").write_bytes(b"edited")
    with pytest.raises(ModelArtifactError, match="does not match the manifest"):
        load_hfn(path)


def test_missing_artifact_says_how_to_train(tmp_path, settings):
    settings.LEITMOTIF_ARTIFACTS_DIR = str(tmp_path)
    with pytest.raises(ModelArtifactError, match="train_hfn"):
        load_hfn()


@needs_fluidsynth
def test_rule_baseline_fits_on_training_takes(tiny_data):
    _, data = tiny_data
    train = data.indices("train")
    baseline = fit_rule_baseline(data.features[train], data.labels[train])
    predicted = baseline.predict(data.features)
    assert predicted.shape == data.labels.shape and set(np.unique(predicted)) <= {0, 1, 2}
    assert np.mean(predicted[train] == data.labels[train]) >= np.mean(data.labels[train] == 0) - 1e-9


@pytest.mark.skipif(not CLIP.is_file(), reason=f"shared audio clip missing at {CLIP}")
def test_feedback_on_a_real_recording_runs():
    from audio.features import load_audio

    config = preset("tiny")
    model = build_model(config)
    clip = load_audio(CLIP, sample_rate=16000)
    result = feedback_for_audio(model, config, clip.samples)
    assert result["windows"] >= 2 and set(result["dimensions"]) == set(FEEDBACK_DIMENSIONS)
    assert all(abs(sum(d["probabilities"]) - 1) < 0.01 for d in result["dimensions"].values())
