"""Training the BiLSTM: seeded, class-weighted, early-stopped on a slice of TRAIN, temperature-scaled.

Why class weights ∝ count^-0.5 rather than full inverse frequency: NONE outnumbers the rarest relation
by two orders of magnitude; full inverse weights make the model shout rare relations everywhere,
no weights make it answer NONE. The square root is the usual compromise, and the power is a setting.

Why a temperature (Guo et al. 2017): the softmax of a network trained to low loss is over-confident,
and ingestion compares the confidence with an auto-accept threshold. One scalar T, fitted by grid
search to minimise the negative log-likelihood on the validation slice, makes the probabilities
honest-ish without changing any decision (the arg-max is the same for every T > 0).
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from core.errors import ConfigurationError
from ingestion.relations.calibration import IsotonicCalibrator, fit_isotonic
from ingestion.relations.config import RelationTrainingConfig
from ingestion.relations.contextual import encoder_dimension
from ingestion.relations.encoding import EncodedPair, collate, encode_pairs, sentence_vectors
from ingestion.relations.evaluation import relation_scores
from ingestion.relations.features import Vocabulary, tokenise
from ingestion.relations.model import BiLstmRelationClassifier
from ingestion.relations.records import AnnotatedSentence
from ingestion.relations.schema import NONE_RELATION, RELATION_LABELS

TEMPERATURE_GRID = np.exp(np.linspace(math.log(0.25), math.log(8.0), 121))


@dataclass
class LabelledPairs:
    """The flattened examples of a split: one per candidate pair, in sentence order."""

    encoded: list[EncodedPair]
    labels: list[int]
    keys: list[tuple[str, int, int]]  # (sentence id, head, tail)
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)


def build_vocabulary(sentences: Sequence[AnnotatedSentence], *, min_count: int) -> Vocabulary:
    return Vocabulary.build((tokenise(s.text, s.mentions).words for s in sentences), min_count=min_count)


def flatten(
    sentences: Sequence[AnnotatedSentence], *, vocabulary: Vocabulary, config: RelationTrainingConfig
) -> LabelledPairs:
    index = {label: i for i, label in enumerate(RELATION_LABELS)}
    result = LabelledPairs([], [], [], [])
    examples_of = [sentence.labelled_pairs() for sentence in sentences]
    with_pairs = [i for i, examples in enumerate(examples_of) if examples]
    tokenised = {i: tokenise(sentences[i].text, sentences[i].mentions) for i in with_pairs}
    vectors = dict(zip(with_pairs, sentence_vectors([tokenised[i] for i in with_pairs], config.contextual_encoder)))
    for i in with_pairs:
        sentence, examples = sentences[i], examples_of[i]
        pairs = [(h, t) for h, t, _ in examples]
        result.encoded.extend(
            encode_pairs(
                sentence.text,
                sentence.mentions,
                pairs,
                vocabulary=vocabulary,
                max_tokens=config.max_tokens,
                context_tokens=config.context_tokens,
                tokenised=tokenised[i],
                vectors=vectors[i],
            )
        )
        result.labels.extend(index[label] for _, _, label in examples)
        result.keys.extend((sentence.id, h, t) for h, t in pairs)
        result.sources.extend(sentence.source for _ in pairs)
    return result


def subsample_none(pairs: LabelledPairs, *, config: RelationTrainingConfig) -> LabelledPairs:
    """Keep a seeded ``config.none_keep_fraction`` of the NONE pairs (all positives), in the same order."""
    if config.none_keep_fraction >= 1.0:
        return pairs
    rng = random.Random(config.seed + 5)
    none_index = RELATION_LABELS.index(NONE_RELATION)
    keep = [i for i, y in enumerate(pairs.labels) if y != none_index or rng.random() < config.none_keep_fraction]
    return LabelledPairs(
        [pairs.encoded[i] for i in keep],
        [pairs.labels[i] for i in keep],
        [pairs.keys[i] for i in keep],
        [pairs.sources[i] for i in keep],
    )


def class_weights(labels: Sequence[int], *, power: float, num_classes: int) -> torch.Tensor:
    """``count^-power`` per class, scaled so the average weight over the training examples is 1."""
    counts = Counter(labels)
    raw = torch.tensor([counts[c] ** -power if counts[c] else 0.0 for c in range(num_classes)], dtype=torch.float32)
    mean = sum(raw[y].item() for y in labels) / max(1, len(labels))
    return raw / mean if mean > 0 else raw


def _batches(order: list[int], lengths: list[int], batch_size: int, rng: random.Random) -> Iterator[list[int]]:
    """Similar lengths together (less padding, faster LSTM), batch order still random."""
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        block = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(block[i : i + batch_size] for i in range(0, len(block), batch_size))
    rng.shuffle(batches)
    yield from batches


@torch.no_grad()
def predict_logits(
    model: BiLstmRelationClassifier, encoded: Sequence[EncodedPair], *, pad_id: int, batch_size: int = 256
) -> torch.Tensor:
    """Masked logits for every pair, in input order (batched by length internally)."""
    model.eval()
    out = torch.empty((len(encoded), len(RELATION_LABELS)), dtype=torch.float32)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].token_ids))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = collate([encoded[i] for i in rows], pad_id=pad_id)
        out[rows] = model(
            batch.token_ids, batch.lengths, batch.head_index, batch.tail_index, batch.allowed, batch.context
        )
    return out


def fit_temperature(logits: torch.Tensor, labels: Sequence[int]) -> float:
    """The grid temperature with the lowest NLL on held-out pairs (1.0 without any)."""
    if len(labels) == 0:
        return 1.0
    target = torch.tensor(list(labels), dtype=torch.long)
    best, best_nll = 1.0, math.inf
    for t in TEMPERATURE_GRID:
        nll = nn.functional.cross_entropy(logits / float(t), target).item()
        if nll < best_nll - 1e-9:
            best, best_nll = float(t), nll
    return best


#: Candidate offsets added to the NONE logit; the one with the best validation macro F1 is kept.
NONE_BIAS_GRID = tuple(round(-1.0 + 0.25 * i, 2) for i in range(29))


def apply_none_bias(logits: torch.Tensor, bias: float) -> torch.Tensor:
    """``logits`` with ``bias`` added to the NONE class (a decision threshold between "some relation" and none)."""
    if not bias:
        return logits
    shifted = logits.clone()
    shifted[:, RELATION_LABELS.index(NONE_RELATION)] += bias
    return shifted


def fit_none_bias(logits: torch.Tensor, pairs: LabelledPairs, *, config: RelationTrainingConfig) -> float:
    """The NONE offset maximising macro F1 on the validation pairs of ``config.calibration_sources``.

    Why: the class weights that let rare relations be learned at all also make the network say "some
    relation" far more often than encyclopedic text warrants (NONE is 84 % of CrossRE's candidate pairs,
    much less in training, where FewRel holds one positive per sentence). Moving the threshold on held-out
    CrossRE-style pairs fixes the operating point without retraining; ties keep the smaller offset.
    """
    rows = [i for i, source in enumerate(pairs.sources) if source in config.calibration_sources]
    if sum(1 for i in rows if pairs.labels[i] != RELATION_LABELS.index(NONE_RELATION)) < 5:
        return 0.0
    subset, labels = logits[rows], [pairs.labels[i] for i in rows]
    best_bias, best_f1 = 0.0, -1.0
    for bias in NONE_BIAS_GRID:
        f1 = scores_from_logits(apply_none_bias(subset, bias), labels)["macro_f1"]
        if f1 > best_f1 + 1e-9:
            best_bias, best_f1 = bias, f1
    return best_bias


def selection_macro_f1(logits: torch.Tensor, pairs: LabelledPairs, *, config: RelationTrainingConfig) -> float:
    """Macro F1 on the validation pairs of ``config.calibration_sources`` (all pairs if they hold too few
    relations) at the NONE offset :func:`fit_none_bias` would choose."""
    rows = [i for i, source in enumerate(pairs.sources) if source in config.calibration_sources]
    if sum(1 for i in rows if pairs.labels[i] != RELATION_LABELS.index(NONE_RELATION)) < 5:
        rows = list(range(len(pairs.labels)))
    bias = fit_none_bias(logits, pairs, config=config) if config.tune_none_bias else 0.0
    return float(scores_from_logits(apply_none_bias(logits[rows], bias), [pairs.labels[i] for i in rows])["macro_f1"])


def top_relations(logits: torch.Tensor, *, temperature: float) -> tuple[list[int], list[float]]:
    """Arg-max class and its temperature-scaled softmax probability for every pair."""
    probabilities = torch.softmax(logits / temperature, dim=1)
    confidence, best = probabilities.max(dim=1)
    return best.tolist(), confidence.tolist()


def fit_calibrator(
    logits: torch.Tensor, pairs: LabelledPairs, *, temperature: float, config: RelationTrainingConfig
) -> IsotonicCalibrator:
    """Isotonic map from the probability of a predicted relation to its precision, on validation pairs.

    Only pairs predicted as a relation count (NONE is never stored as a fact); pairs from
    ``config.calibration_sources`` are used when they hold enough predictions, since their text is what
    ingestion reads, otherwise all validation pairs.
    """
    best, probability = top_relations(logits, temperature=temperature)
    none_index = RELATION_LABELS.index(NONE_RELATION)
    predicted = [i for i, b in enumerate(best) if b != none_index]
    chosen = [i for i in predicted if pairs.sources[i] in config.calibration_sources]
    fitted_on = "validation:" + "+".join(config.calibration_sources)
    if len(chosen) < config.calibration_min_predictions:
        chosen, fitted_on = predicted, "validation:all"
    return fit_isotonic(
        [probability[i] for i in chosen], [best[i] == pairs.labels[i] for i in chosen], fitted_on=fitted_on
    )


def scores_from_logits(logits: torch.Tensor, labels: Sequence[int]) -> dict[str, Any]:
    predicted = logits.argmax(dim=1).tolist()
    return relation_scores([RELATION_LABELS[y] for y in labels], [RELATION_LABELS[p] for p in predicted])


@dataclass
class BiLstmTrainingResult:
    config: RelationTrainingConfig
    vocabulary: Vocabulary
    model: BiLstmRelationClassifier
    temperature: float
    best_epoch: int
    epochs_trained: int
    training_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    validation_scores: dict[str, Any] | None = None
    class_weights: dict[str, float] = field(default_factory=dict)
    train_pairs: int = 0
    calibrator: IsotonicCalibrator = field(default_factory=IsotonicCalibrator)
    none_bias: float = 0.0


def build_model(config: RelationTrainingConfig, vocabulary_size: int) -> BiLstmRelationClassifier:
    return BiLstmRelationClassifier(
        vocab_size=vocabulary_size,
        num_classes=len(RELATION_LABELS),
        embedding_dim=config.embedding_dim,
        hidden_dim=config.hidden_dim,
        mlp_dim=config.mlp_dim,
        dropout=config.dropout,
        context_dim=encoder_dimension(config.contextual_encoder),
        context_projection_dim=config.context_projection_dim,
    )


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_bilstm(
    train: Sequence[AnnotatedSentence],
    validation: Sequence[AnnotatedSentence],
    config: RelationTrainingConfig,
    *,
    progress: bool = True,
) -> BiLstmTrainingResult:
    """Train on ``train``, keep the weights of the best validation epoch, fit the temperature on validation."""
    from tqdm.auto import tqdm

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.torch_threads)
    try:
        seed_everything(config.seed)
        vocabulary = build_vocabulary(train, min_count=config.min_word_count)
        train_pairs = subsample_none(flatten(train, vocabulary=vocabulary, config=config), config=config)
        val_pairs = flatten(validation, vocabulary=vocabulary, config=config)
        if len(train_pairs) == 0:
            raise ConfigurationError("The training sentences hold no candidate mention pairs; check the data files.")
        weights = class_weights(train_pairs.labels, power=config.class_weight_power, num_classes=len(RELATION_LABELS))
        model = build_model(config, len(vocabulary))
        optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        loss_fn = nn.CrossEntropyLoss(weight=weights, reduction="none")
        example_weights = torch.tensor(
            [config.fewrel_loss_weight if source == "fewrel" else 1.0 for source in train_pairs.sources],
            dtype=torch.float32,
        )
        rng = random.Random(config.seed)
        lengths = [len(p.token_ids) for p in train_pairs.encoded]
        targets = torch.tensor(train_pairs.labels, dtype=torch.long)
        best_state, best_key, best_epoch, stale = None, None, 0, 0
        history: list[dict[str, float]] = []
        started = time.perf_counter()
        epochs = tqdm(range(1, config.epochs + 1), desc="relation BiLSTM", unit="epoch", disable=not progress)
        for epoch in epochs:
            model.train()
            order = list(range(len(train_pairs)))
            rng.shuffle(order)
            total, seen = 0.0, 0
            for rows in _batches(order, lengths, config.batch_size, rng):
                batch = collate([train_pairs.encoded[i] for i in rows], pad_id=vocabulary.pad_id)
                ids = batch.token_ids
                if config.word_dropout > 0:
                    drop = (torch.rand(ids.shape) < config.word_dropout) & (ids >= vocabulary.num_special)
                    ids = ids.masked_fill(drop, vocabulary.unk_id)
                logits = model(ids, batch.lengths, batch.head_index, batch.tail_index, batch.allowed, batch.context)
                row_weights = example_weights[rows]
                loss = (loss_fn(logits, targets[rows]) * row_weights).sum() / row_weights.sum().clamp(min=1e-6)
                optimiser.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), config.gradient_clip)
                optimiser.step()
                total += loss.item() * len(rows)
                seen += len(rows)
            record = {"epoch": epoch, "train_loss": total / max(1, seen)}
            if len(val_pairs):
                val_logits = predict_logits(model, val_pairs.encoded, pad_id=vocabulary.pad_id)
                val_scores = scores_from_logits(val_logits, val_pairs.labels)
                val_loss = nn.functional.cross_entropy(
                    val_logits, torch.tensor(val_pairs.labels), weight=weights
                ).item()
                record.update(validation_loss=val_loss, validation_macro_f1=val_scores["macro_f1"])
                # The epoch is chosen by what the model is for: macro F1 on the CrossRE-style validation
                # pairs at their best NONE offset (the offset is chosen again after training).
                target = selection_macro_f1(val_logits, val_pairs, config=config)
                record["selection_macro_f1"] = target
                key = (round(target, 6), -val_loss)
            else:
                key = (epoch, 0.0)  # no validation slice: the last epoch is the model
            history.append(record)
            epochs.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k != "epoch"})
            if best_key is None or key > best_key:
                best_key, best_epoch, stale = key, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
                if stale >= config.patience:
                    break
        seconds = time.perf_counter() - started
        assert best_state is not None  # epochs >= 1 (the config checks it) and the first epoch is always kept
        model.load_state_dict(best_state)
        model.eval()
        temperature, validation_scores, calibrator, none_bias = 1.0, None, IsotonicCalibrator(), 0.0
        if len(val_pairs):
            val_logits = predict_logits(model, val_pairs.encoded, pad_id=vocabulary.pad_id)
            if config.tune_none_bias:
                none_bias = fit_none_bias(val_logits, val_pairs, config=config)
                val_logits = apply_none_bias(val_logits, none_bias)
            temperature = fit_temperature(val_logits, val_pairs.labels)
            validation_scores = scores_from_logits(val_logits, val_pairs.labels)
            calibrator = fit_calibrator(val_logits, val_pairs, temperature=temperature, config=config)
        return BiLstmTrainingResult(
            config=config,
            vocabulary=vocabulary,
            model=model,
            temperature=temperature,
            best_epoch=best_epoch,
            epochs_trained=len(history),
            training_seconds=seconds,
            history=history,
            validation_scores=validation_scores,
            class_weights={label: float(weights[i]) for i, label in enumerate(RELATION_LABELS)},
            train_pairs=len(train_pairs),
            calibrator=calibrator,
            none_bias=none_bias,
        )
    finally:
        torch.set_num_threads(previous_threads)


def evaluate_bilstm(
    result: BiLstmTrainingResult, sentences: Sequence[AnnotatedSentence]
) -> tuple[dict[str, Any], list[str]]:
    """Scores on ``sentences`` and the predicted label of each candidate pair (sentence order)."""
    pairs = flatten(sentences, vocabulary=result.vocabulary, config=result.config)
    if not len(pairs):
        return relation_scores([], []), []
    logits = apply_none_bias(
        predict_logits(result.model, pairs.encoded, pad_id=result.vocabulary.pad_id), result.none_bias
    )
    predicted = [RELATION_LABELS[i] for i in logits.argmax(dim=1).tolist()]
    return relation_scores([RELATION_LABELS[y] for y in pairs.labels], predicted), predicted


def gold_labels(sentences: Sequence[AnnotatedSentence]) -> list[str]:
    return [label for s in sentences for _, _, label in s.labelled_pairs()]


@dataclass
class CalibratedDecisions:
    """Every candidate pair of some sentences: gold, predicted class and calibrated confidence."""

    gold: list[str]
    predicted: list[str]
    confidence: list[float]
    sources: list[str]

    def relation_confidences(self, source: str | None = None) -> tuple[list[float], list[bool], int]:
        """(confidence, right?) of every predicted relation, and the number of gold relations (of ``source``)."""
        rows = [i for i in range(len(self.gold)) if source is None or self.sources[i] == source]
        predicted = [i for i in rows if self.predicted[i] != NONE_RELATION]
        gold_total = sum(1 for i in rows if self.gold[i] != NONE_RELATION)
        return (
            [self.confidence[i] for i in predicted],
            [self.predicted[i] == self.gold[i] for i in predicted],
            gold_total,
        )


def calibrated_decisions(result: BiLstmTrainingResult, sentences: Sequence[AnnotatedSentence]) -> CalibratedDecisions:
    """What the extractor decides for every candidate pair of ``sentences``, with calibrated confidence."""
    pairs = flatten(sentences, vocabulary=result.vocabulary, config=result.config)
    if not len(pairs):
        return CalibratedDecisions([], [], [], [])
    logits = apply_none_bias(
        predict_logits(result.model, pairs.encoded, pad_id=result.vocabulary.pad_id), result.none_bias
    )
    best, probability = top_relations(logits, temperature=result.temperature)
    return CalibratedDecisions(
        gold=[RELATION_LABELS[y] for y in pairs.labels],
        predicted=[RELATION_LABELS[b] for b in best],
        confidence=[float(c) for c in result.calibrator.apply(probability)],
        sources=list(pairs.sources),
    )
