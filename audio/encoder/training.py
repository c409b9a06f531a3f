"""Train an audio encoder on the catalogue's works, evaluate it on held-out works, package the result.

Protocol: works (not crops) are split by a seeded shuffle into train / validation / test
(:func:`~.dataset.split_examples`); every epoch draws ``train_crops_per_work`` random crops of each
training work (seeded); validation MSE (on the average prediction over ``eval_crops`` fixed crops per
work) picks the best epoch and stops training after ``patience`` epochs without improvement; the
best weights are evaluated once on the test works. Loss: MSE on standardised target dimensions (plus
the reconstruction MSE for the autoencoder). One torch thread, all seeds fixed: the same config on the
same data gives the same weights and predictions.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from audio.encoder.artifacts import ReferenceSpace
from audio.encoder.config import AudioEncoderConfig
from audio.encoder.dataset import (
    FIELD_RELATIONS,
    SideVocabulary,
    WorkExample,
    evaluation_crops,
    load_examples,
    mel_config_for,
    random_crop,
    split_examples,
)
from audio.encoder.metrics import hits_metrics, regression_metrics
from audio.encoder.targets import TargetSpace, load_target_space
from core.errors import ConfigurationError


@dataclass
class TrainedEncoder:
    config: AudioEncoderConfig
    model: Any
    vocabulary: SideVocabulary
    reference: ReferenceSpace
    metrics: dict[str, Any]
    split: Mapping[str, list[str]]
    target_source: Mapping[str, Any]
    mel: Mapping[str, Any]
    mel_fingerprint: str
    crop_frames: int
    target_dim: int
    msle_shift: float
    predictions: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)

    def saved_config(self) -> dict[str, Any]:
        return {
            "encoder": self.config.to_dict(),
            "mel": dict(self.mel),
            "mel_fingerprint": self.mel_fingerprint,
            "crop_frames": self.crop_frames,
            "target_dim": self.target_dim,
            "target_source": dict(self.target_source),
            "side_vocabulary": self.vocabulary.to_dict(),
            "split": {k: list(v) for k, v in self.split.items()},
            "msle_shift": self.msle_shift,
        }


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def side_batch(vocabulary: SideVocabulary, sides: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
    encoded = [vocabulary.encode(side) for side in sides]
    return {name: torch.from_numpy(np.stack([row[name] for row in encoded])) for name in vocabulary.values}


def predict_examples(
    model,
    vocabulary: SideVocabulary,
    examples: Sequence[WorkExample],
    mel_config,
    *,
    sides: Sequence[Mapping[str, Any]] | None = None,
) -> np.ndarray:
    """Average prediction over each work's fixed evaluation crops (deterministic), shape (works, dim)."""
    if not examples:
        return np.zeros((0, int(model.target_mean.shape[0])), np.float32)
    outputs = []
    for index, example in enumerate(examples):
        crops = evaluation_crops(example.mel, mel_config)
        side = sides[index] if sides is not None else example.side
        batch = {
            "mel": torch.from_numpy(np.ascontiguousarray(crops)),
            "side": side_batch(vocabulary, [side] * len(crops)),
        }
        outputs.append(model.predict(batch).mean(dim=0).numpy())
    return np.stack(outputs).astype(np.float32)


def _dropout_side(
    side: Mapping[str, Any], fields: Iterable[str], probability: float, rng: np.random.Generator
) -> dict[str, Any]:
    hidden = dict(side)
    for name in fields:
        if rng.random() < probability:
            hidden[name] = [] if name == "instrumentation" else None
    return hidden


def build_reference(space: TargetSpace, examples: Sequence[WorkExample], *, store) -> ReferenceSpace:
    """Target vectors of the works and of every composer/era/form some work is linked to, with names."""
    works = {
        e.entity_id: {
            "pk": e.pk,
            "slug": e.slug,
            "title": e.title,
            **{k: e.side.get(k) for k in ("composer", "era", "form")},
        }
        for e in examples
        if space.has(e.entity_id)
    }
    field_candidates: dict[str, tuple[str, ...]] = {}
    for name in FIELD_RELATIONS:
        field_candidates[name] = tuple(
            sorted({e.truth[name] for e in examples if name in e.truth and space.has(e.truth[name])})
        )
    candidate_ids = sorted({i for ids in field_candidates.values() for i in ids})
    records = store.get_entities(candidate_ids) if store is not None else {}
    entities = {
        i: {"name": records[i].name if i in records else i, "type": records[i].type if i in records else ""}
        for i in candidate_ids
    }
    subset = space.subset([*works, *candidate_ids])
    return ReferenceSpace(
        subset.scoring,
        subset.entity_ids,
        subset.vectors,
        dict(space.relation_vectors),
        entities,
        works,
        field_candidates,
    )


def evaluate(
    model, vocabulary, examples, mel_config, reference: ReferenceSpace, targets: np.ndarray, *, shift: float
) -> tuple[dict, np.ndarray]:
    predicted = predict_examples(model, vocabulary, examples, mel_config)
    metrics: dict[str, Any] = {"works": len(examples), **regression_metrics(targets, predicted, shift=shift)}
    metrics["hits"] = hits_metrics(predicted, [e.truth for e in examples], reference=reference)
    return metrics, predicted


def train_audio_encoder(
    *,
    config: AudioEncoderConfig,
    store=None,
    examples: Sequence[WorkExample] | None = None,
    target_space: TargetSpace | None = None,
    progress: bool = True,
) -> TrainedEncoder:
    """Train ``config`` on the works (loaded from the catalogue and ``store`` unless given)."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    torch.set_num_threads(1)
    seed_everything(config.seed)
    mel_config = mel_config_for(config)
    skipped: list[tuple[str, str]] = []
    if examples is None:
        if store is None:
            raise ConfigurationError(
                "train_audio_encoder needs a graph store (for the works' composers, eras and forms) or examples."
            )
        examples, skipped = load_examples(mel_config=mel_config, store=store, progress=progress)
    relation_types = tuple(relation for relation, _ in FIELD_RELATIONS.values())
    space = target_space or load_target_space(
        config, relations=relation_types, item_ids=[e.entity_id for e in examples]
    )
    usable = [e for e in examples if space.has(e.entity_id)]
    without_target = len(examples) - len(usable)
    if len(usable) < 6:
        raise ConfigurationError(
            f"Only {len(usable)} of {len(examples)} works with audio have a vector in the {config.target} target space "
            f"({space.source.get('kge_artifact', config.target)}). Load works (`python manage.py load_works`) and train the "
            "KGE on the graph that contains them (`python manage.py train_kge --model transe`)."
        )
    split = split_examples(
        usable, seed=config.seed, validation_ratio=config.validation_ratio, test_ratio=config.test_ratio
    )
    train, validation, test = split["train"], split["validation"], split["test"]
    vocabulary = SideVocabulary.build(train, config.side_fields if config.uses_side else ())
    reference = build_reference(space, usable, store=store)
    targets = {
        name: np.stack([space.vector(e.entity_id) for e in part]).astype(np.float32)
        if part
        else np.zeros((0, space.dim), np.float32)
        for name, part in split.items()
    }
    shift = float(-targets["train"].min())

    from audio.encoder.model import RECONSTRUCTION_WEIGHT, AudioEncoder

    model = AudioEncoder(
        variant=config.variant,
        target_dim=space.dim,
        n_mels=mel_config.n_mels,
        frames=mel_config.crop_frames,
        side_vocab_sizes=vocabulary.sizes if config.uses_side else {},
        channels=config.conv_channels,
        lstm_hidden=config.lstm_hidden,
        hidden_dim=config.hidden_dim,
        side_dim=config.side_dim,
        dropout=config.dropout,
    )
    count = sum(e.mel.size for e in train)
    mel_mean = sum(float(e.mel.sum(dtype=np.float64)) for e in train) / count
    mel_var = sum(float(np.square(e.mel - mel_mean, dtype=np.float64).sum()) for e in train) / count
    model.set_normalisation(
        mel_mean=mel_mean,
        mel_std=float(np.sqrt(mel_var)),
        target_mean=torch.from_numpy(targets["train"].mean(axis=0)),
        target_std=torch.from_numpy(targets["train"].std(axis=0)),
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed)
    standardised = (torch.from_numpy(targets["train"]) - model.target_mean) / model.target_std
    history: list[dict[str, float]] = []
    best = (float("inf"), -1, copy.deepcopy(model.state_dict()))
    stale = 0
    bar = tqdm(range(config.epochs), desc=f"Audio encoder ({config.variant})", unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        order = [(index, crop) for index in range(len(train)) for crop in range(config.train_crops_per_work)]
        rng.shuffle(order)
        losses = []
        for start in range(0, len(order), config.batch_size):
            chosen = [index for index, _ in order[start : start + config.batch_size]]
            if len(chosen) < 2:  # batch norm needs two examples
                continue
            mel = np.stack([random_crop(train[i].mel, mel_config.crop_frames, rng) for i in chosen])
            sides = [_dropout_side(train[i].side, vocabulary.values, config.side_dropout, rng) for i in chosen]
            batch = {"mel": torch.from_numpy(mel), "side": side_batch(vocabulary, sides)}
            prediction, auxiliary = model(batch)
            loss = torch.nn.functional.mse_loss(prediction, standardised[chosen]) + RECONSTRUCTION_WEIGHT * auxiliary
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        predicted = predict_examples(model, vocabulary, validation, mel_config)
        validation_mse = float(np.mean((predicted - targets["validation"]) ** 2))
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": float(np.mean(losses)) if losses else float("nan"),
                "validation_mse": validation_mse,
            }
        )
        bar.set_postfix(loss=f"{history[-1]['train_loss']:.3f}", val_mse=f"{validation_mse:.5f}", refresh=False)
        if validation_mse < best[0] - 1e-9:
            best, stale = (validation_mse, epoch + 1, copy.deepcopy(model.state_dict())), 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    bar.close()
    model.load_state_dict(best[2])
    model.eval()
    validation_metrics, _ = evaluate(
        model, vocabulary, validation, mel_config, reference, targets["validation"], shift=shift
    )
    test_metrics, test_predicted = evaluate(
        model, vocabulary, test, mel_config, reference, targets["test"], shift=shift
    )
    oracle = hits_metrics(targets["test"], [e.truth for e in test], reference=reference)
    metrics = {
        "variant": config.variant,
        "target": config.target,
        "seed": config.seed,
        "works": {
            "with_audio": len(examples),
            "without_target_vector": without_target,
            "skipped": skipped,
            "train": len(train),
            "validation": len(validation),
            "test": len(test),
        },
        "best_epoch": best[1],
        "epochs_run": len(history),
        "history": history,
        "validation": validation_metrics,
        "test": test_metrics,
        "test_hits_of_true_target_vectors": oracle,
        "uses_side_information": config.uses_side,
        "side_fields": list(config.side_fields) if config.uses_side else [],
        "msle_shift": shift,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu_started, 1),
    }
    return TrainedEncoder(
        config=config,
        model=model,
        vocabulary=vocabulary,
        reference=reference,
        metrics=metrics,
        split={name: [e.slug for e in part] for name, part in split.items()},
        target_source=dict(space.source),
        mel=mel_config.to_dict(),
        mel_fingerprint=mel_config.fingerprint(),
        crop_frames=mel_config.crop_frames,
        target_dim=space.dim,
        msle_shift=shift,
        predictions={"test": test_predicted},
    )
