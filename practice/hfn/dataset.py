"""The HFN data set: generated performances of corpus works, their features and labels, split by work.

Each selected work (the stratified corpus selection of :func:`audio.works.corpus.select_works`) is
parsed once; a clean reference take (piano, default SoundFont, no noise) is rendered for the rule
baseline, then ``takes_per_work`` performances with sampled perturbations
(:func:`sample_perturbations`), programs, SoundFonts and acoustics, each seeded by (run seed, work,
take). Works are split into train/validation/test by work id (:func:`practice.synthesis.split_works`),
so no test work is ever heard in training, in any take.

What is kept per take: the mel magnitude (float16), the factor indices (intended tempo, mode,
dynamics; the learner's self-reported state), the intended valence/arousal, the labels (six ordinal
dimensions, performed valence/arousal), the rule baseline's features (:mod:`.baseline`) and how it was
rendered. The whole set is cached as one ``.npz`` under ``<LEITMOTIF_CACHE_DIR>/practice/`` named by
a hash of the data settings, so the training command and the benchmark generate it once.

Why the learner's state is sampled with a bias (nervous more often with timing problems, tired more
often with flat or clipped playing): a self-report is a weak prior on what went wrong; the model may
use it but cannot rely on it (about half the reports carry no such signal).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from audio.cache import atomic_write_bytes
from practice.hfn.baseline import BASELINE_FEATURES, baseline_features
from practice.hfn.config import DYNAMICS_BUCKETS, LEARNER_STATES, MODES, TEMPO_BUCKETS, HFNConfig
from practice.synthesis import (
    FEEDBACK_DIMENSIONS,
    NoteEvent,
    Perturbation,
    ScoreCharacter,
    available_soundfonts,
    emotion_of,
    perform,
    prepare_score,
    split_works,
)

logger = logging.getLogger(__name__)
DATASET_VERSION = 1
#: Amount ranges per (dimension, level 1 or 2), inside the label thresholds of :mod:`practice.synthesis`.
AMOUNTS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "pitch": ((0.025, 0.06), (0.1, 0.25)),
    "rhythm": ((18.0, 35.0), (50.0, 110.0)),
    "tempo": ((0.07, 0.13), (0.18, 0.35)),
    "dynamics": ((0.3, 0.6), (0.75, 1.0)),
    "articulation": ((0.25, 0.45), (0.55, 0.8)),
}
KIND_OF = {
    "rhythm": "timing_jitter",
    "tempo": "tempo_drift",
    "dynamics": "flat_dynamics",
    "articulation": "articulation",
}


def sample_perturbations(rng: np.random.Generator, *, clean_probability: float = 0.2) -> list[Perturbation]:
    """A random mix of mistakes: clean with ``clean_probability``, else each dimension with p = 0.4 at level 1 or 2."""
    if rng.random() < clean_probability:
        return []
    chosen: list[Perturbation] = []
    while not chosen:
        for dimension, ranges in AMOUNTS.items():
            if rng.random() >= 0.4:
                continue
            low, high = ranges[int(rng.integers(2))]
            amount = float(rng.uniform(low, high))
            if dimension == "pitch":
                kind = str(rng.choice(["wrong_note", "missed_note", "extra_note"]))
                chosen.append(Perturbation(kind, amount))
            else:
                chosen.append(Perturbation(KIND_OF[dimension], amount))
    return chosen


def learner_state(rng: np.random.Generator, labels: dict[str, int | float]) -> str:
    """A self-report loosely tied to the performance (see the module doc)."""
    if rng.random() < 0.2:
        return "unknown"
    if rng.random() < 0.5:
        return str(rng.choice(LEARNER_STATES[1:]))
    if labels["rhythm"] or labels["tempo"]:
        return "nervous"
    if labels["dynamics"] or labels["articulation"]:
        return "tired"
    return "confident" if not any(labels[d] for d in FEEDBACK_DIMENSIONS) else "calm"


def character_factors(character: ScoreCharacter) -> tuple[int, int, int]:
    """(tempo bucket, mode, dynamics bucket) indices of the score's intended character."""
    tempo = 0 if character.bpm < 80 else 1 if character.bpm <= 125 else 2
    mode = MODES.index(character.mode) if character.mode in MODES else 0
    dynamics = 0 if character.dynamics < 66 else 1 if character.dynamics < 82 else 2
    assert len(TEMPO_BUCKETS) == 3 and len(DYNAMICS_BUCKETS) == 3
    return tempo, mode, dynamics


def intended_emotion(character: ScoreCharacter, reference: Sequence[NoteEvent]) -> tuple[float, float]:
    """Valence/arousal the score asks for: :func:`practice.synthesis.emotion_of` of the score played as written."""
    emotion = emotion_of(character, reference, reference)
    return emotion["valence"], emotion["arousal"]


def mel_magnitude(audio: np.ndarray, config: HFNConfig, *, frames: int | None = None) -> np.ndarray:
    """Mel magnitude ``(n_mels, frames)`` of 16 kHz audio, zero-padded or cut to ``frames`` when given."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=audio.astype(np.float32),
        sr=config.sample_rate,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        n_mels=config.n_mels,
        power=1.0,
    ).astype(np.float32)
    if frames is None:
        return mel
    if mel.shape[1] >= frames:
        return mel[:, :frames]
    return np.pad(mel, ((0, 0), (0, frames - mel.shape[1])))


@dataclass
class PracticeDataset:
    """Arrays of all takes (first axis: take), with the work and split of each."""

    magnitude: np.ndarray  # (N, F, T) float16
    factors: np.ndarray  # (N, 4) int64
    intended: np.ndarray  # (N, 2) float32
    labels: np.ndarray  # (N, D) int64
    emotion: np.ndarray  # (N, 2) float32
    features: np.ndarray  # (N, K) float32, the rule baseline's
    works: np.ndarray  # (N,) str
    split: np.ndarray  # (N,) str
    meta: dict[str, Any]

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.split == split)

    def save(self, path: Path) -> None:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            magnitude=self.magnitude,
            factors=self.factors,
            intended=self.intended,
            labels=self.labels,
            emotion=self.emotion,
            features=self.features,
            works=self.works.astype(str),
            split=self.split.astype(str),
            meta=np.array(json.dumps(self.meta)),
        )
        atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> PracticeDataset:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                data["magnitude"],
                data["factors"],
                data["intended"],
                data["labels"],
                data["emotion"],
                data["features"],
                data["works"],
                data["split"],
                json.loads(str(data["meta"])),
            )


def dataset_path(config: HFNConfig, extra: dict[str, Any] | None = None) -> Path:
    payload = {"version": DATASET_VERSION, **config.data_dict(), **(extra or {})}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    return Path(settings.LEITMOTIF_CACHE_DIR) / "practice" / f"hfn-data-{digest}.npz"


ScoreSource = tuple[str, Any]  # (work id, music21 score or a zero-argument loader of one)


def corpus_scores(config: HFNConfig) -> list[ScoreSource]:
    """(slug, loader) of the first ``config.works`` works of the seeded corpus selection."""
    from audio.works.corpus import parse_score, select_works

    refs = select_works(limit=config.works, seed=config.seed)
    return [(ref.slug, (lambda ref=ref: parse_score(ref))) for ref in refs]


def build_dataset(
    config: HFNConfig,
    *,
    scores: Sequence[ScoreSource] | None = None,
    cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> PracticeDataset:
    """Generate (or read from the cache) the data set of ``config`` (see the module doc).

    ``scores`` replaces the corpus selection (tests pass small hand-built scores); such a set is not cached.
    """
    path = dataset_path(config)
    if scores is None and cache and path.is_file():
        return PracticeDataset.load(path)
    sources = list(scores) if scores is not None else corpus_scores(config)
    split_of = {}
    for name, ids in split_works(
        [work for work, _ in sources],
        seed=config.seed,
        test_ratio=config.test_ratio,
        validation_ratio=config.validation_ratio,
    ).items():
        split_of.update(dict.fromkeys(ids, name))
    fonts = available_soundfonts()
    frames = config.frames
    rows: dict[str, list] = {
        key: [] for key in ("magnitude", "factors", "intended", "labels", "emotion", "features", "works", "split")
    }
    skipped: dict[str, str] = {}
    renders: list[dict] = []
    for work_number, (work, source) in enumerate(sources):
        try:
            score = source() if callable(source) else source
            reference, character = prepare_score(score, seconds=config.clip_seconds)
            clean = perform(reference, character, [], seed=config.seed, program=0, seconds=config.clip_seconds)
        except Exception as exc:  # a score music21 or FluidSynth cannot play: skipped and reported
            skipped[work] = f"{type(exc).__name__}: {str(exc)[:120]}"
            continue
        tempo, mode, dynamics = character_factors(character)
        intended = intended_emotion(character, reference)
        for take in range(config.takes_per_work):
            rng = np.random.default_rng([config.seed, work_number, take])
            perturbations = sample_perturbations(rng)
            noisy = rng.random() < config.noisy_fraction
            font = fonts[1] if len(fonts) > 1 and rng.random() < config.second_soundfont_fraction else None
            try:
                performance = perform(
                    reference,
                    character,
                    perturbations,
                    seed=int(rng.integers(2**31)),
                    seconds=config.clip_seconds,
                    noise_db=float(rng.uniform(10, 35)) if noisy else None,
                    room=noisy,
                    soundfont=font,
                )
            except Exception as exc:
                skipped[f"{work}#{take}"] = f"{type(exc).__name__}: {str(exc)[:120]}"
                continue
            state = learner_state(rng, performance.labels)
            rows["magnitude"].append(mel_magnitude(performance.audio, config, frames=frames).astype(np.float16))
            rows["factors"].append([tempo, mode, dynamics, LEARNER_STATES.index(state)])
            rows["intended"].append(intended)
            rows["labels"].append([int(performance.labels[d]) for d in FEEDBACK_DIMENSIONS])
            rows["emotion"].append([performance.labels["valence"], performance.labels["arousal"]])
            rows["features"].append(baseline_features(performance.audio, clean.audio, sample_rate=config.sample_rate))
            rows["works"].append(work)
            rows["split"].append(split_of.get(work, "train"))
            renders.append(
                {
                    "work": work,
                    "take": take,
                    "state": state,
                    **performance.render,
                    "perturbations": [[p.kind, round(p.amount, 4)] for p in perturbations],
                }
            )
        if progress is not None:
            progress(f"{work_number + 1}/{len(sources)} {work}")
    if not rows["works"]:
        from core.errors import ConfigurationError

        raise ConfigurationError(
            f"no work could be rendered ({len(skipped)} skipped: {dict(list(skipped.items())[:3])})."
        )
    dataset = PracticeDataset(
        magnitude=np.stack(rows["magnitude"]),
        factors=np.asarray(rows["factors"], dtype=np.int64),
        intended=np.asarray(rows["intended"], dtype=np.float32),
        labels=np.asarray(rows["labels"], dtype=np.int64),
        emotion=np.asarray(rows["emotion"], dtype=np.float32),
        features=np.asarray(rows["features"], dtype=np.float32).reshape(len(rows["works"]), len(BASELINE_FEATURES)),
        works=np.asarray(rows["works"]),
        split=np.asarray(rows["split"]),
        meta={
            "data": config.data_dict(),
            "skipped": skipped,
            "renders": renders,
            "soundfonts": [f.name for f in fonts],
        },
    )
    if scores is None and cache:
        dataset.save(path)
    return dataset
