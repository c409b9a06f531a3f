"""Training the NER pipeline: data assembly, the seeded training loop with early stopping, the dev report.

How the data are split and why:

* gold training sentences come from the configured train sources (CrossNER train + the shared part of
  its test split, MusicRecoNER train). A seeded ``validation_fraction`` of *each* source is held out:
  it picks the best epoch (early stopping) and is the only thing tuning looks at;
* the dev sets (CrossNER ``ner_dev.txt``, MusicRecoNER ``dev.bio``) are read once, after training, for
  the final report. They are never trained on, and nothing is chosen by them;
* weak examples (:mod:`ingestion.ner.weak`) are built from the training part only, so no validation
  sentence leaks into training through a swapped copy.

Reproducibility: one seed drives the split, the weak examples, the shuffling and spaCy/thinc's own
randomness, and BLAS runs on one thread, so the same config and data give the same model.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from core.errors import DataFileError
from ingestion.labels import NER_LABELS
from ingestion.ner.config import DEV_SOURCES, HELD_OUT_FILES, TRAIN_SOURCES, NerTrainingConfig
from ingestion.ner.corpora import LabeledSentence, read_bio_file
from ingestion.ner.evaluation import NerScores, evaluate_pipeline, score_spans
from ingestion.ner.features import GAZETTEER_COMPONENT, GraphGazetteer, gazetteer_feature_names
from ingestion.ner.pipeline import FEATURE_COMPONENTS, build_pipeline, initialize_pipeline, trainable_components
from ingestion.ner.weak import (
    Gazetteer,
    WeakContext,
    WeakExamples,
    build_weak_examples,
    gazetteer_from_store,
    titles_from_courses_file,
)

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.pipeline import TrainablePipe

COURSES_RELATIVE_PATH = Path("udemy-courses") / "udemy_courses_musical_instruments.csv"


def default_data_dir() -> Path:
    from django.conf import settings

    return Path(getattr(settings, "LEITMOTIF_DATA_DIR", Path(settings.BASE_DIR).parent / "shared" / "data"))


@dataclass(frozen=True)
class TrainingData:
    """Everything one training run reads, already split; ``stats`` goes into ``metrics.json``."""

    train: tuple[LabeledSentence, ...]
    validation: tuple[LabeledSentence, ...]
    weak: WeakExamples | None
    lowercased: tuple[LabeledSentence, ...]
    gazetteer: Gazetteer | None
    stats: Mapping[str, Any] = field(default_factory=dict)

    def training_examples(self) -> list[LabeledSentence]:
        return [*self.train, *(self.weak.examples if self.weak else ()), *self.lowercased]


def held_out_sentences(*, data_dir: Path) -> frozenset[tuple[str, ...]]:
    """Token sequences of :data:`HELD_OUT_FILES` (JSONL with a ``sentence`` token list), never to be trained on."""
    held: set[tuple[str, ...]] = set()
    for relative in HELD_OUT_FILES:
        path = Path(data_dir) / relative
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                held.add(tuple(json.loads(line)["sentence"]))
    return frozenset(held)


def read_train_sources(config: NerTrainingConfig, *, data_dir: Path) -> dict[str, list[LabeledSentence]]:
    """The gold training corpora, without any sentence of :data:`HELD_OUT_FILES`."""
    held = held_out_sentences(data_dir=data_dir)
    return {
        name: [
            sentence
            for sentence in read_bio_file(Path(data_dir) / TRAIN_SOURCES[name][1], corpus=TRAIN_SOURCES[name][0])
            if sentence.tokens not in held
        ]
        for name in config.train_sources
    }


def read_dev_sources(*, data_dir: Path) -> dict[str, list[LabeledSentence]]:
    return {
        name: read_bio_file(Path(data_dir) / relative, corpus=corpus)
        for name, (corpus, relative) in DEV_SOURCES.items()
    }


@dataclass(frozen=True)
class ValidationSplit:
    train: list[LabeledSentence]
    validation: list[LabeledSentence]
    #: source name -> (training sentences, validation sentences)
    sizes: dict[str, tuple[int, int]]


def split_validation(
    sources: Mapping[str, Sequence[LabeledSentence]], *, fraction: float, seed: int
) -> ValidationSplit:
    """A seeded ``fraction`` of every source (at least one sentence, never all) for validation; the rest trains."""
    train: list[LabeledSentence] = []
    validation: list[LabeledSentence] = []
    sizes: dict[str, tuple[int, int]] = {}
    for index, (name, sentences) in enumerate(sources.items()):
        if len(sentences) < 2:
            raise DataFileError(
                f"{name} holds {len(sentences)} sentence(s); at least 2 are needed to carve a validation slice.",
            )
        order = list(range(len(sentences)))
        random.Random(f"{seed}:{index}:{name}").shuffle(order)
        held = min(len(sentences) - 1, max(1, round(fraction * len(sentences))))
        chosen = set(order[:held])
        validation.extend(s for i, s in enumerate(sentences) if i in chosen)
        train.extend(s for i, s in enumerate(sentences) if i not in chosen)
        sizes[name] = (len(sentences) - held, held)
    return ValidationSplit(train=train, validation=validation, sizes=sizes)


def assemble_training_data(
    config: NerTrainingConfig,
    *,
    data_dir: Path | None = None,
    store=None,
    gazetteer: Gazetteer | None = None,
    course_titles: Sequence[str] | None = None,
    train_sources: Mapping[str, Sequence[LabeledSentence]] | None = None,
    progress: bool = False,
) -> TrainingData:
    """Read, split and augment the training data of ``config``.

    The weak builders need graph names: pass ``gazetteer`` (tests) or ``store`` (read here); with
    neither, or with weak labels switched off, no weak example is built. ``train_sources`` replaces
    the corpora files (tests use tiny ones).
    """
    import spacy

    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    sources = dict(train_sources) if train_sources is not None else read_train_sources(config, data_dir=data_dir)
    split = split_validation(sources, fraction=config.validation_fraction, seed=config.seed)
    train, validation = split.train, split.validation
    rng = random.Random(config.seed)

    weak: WeakExamples | None = None
    if (config.uses_weak_labels or config.gazetteer_features) and gazetteer is None and store is not None:
        gazetteer = gazetteer_from_store(store, min_genre_tag_artists=config.min_genre_tag_artists, progress=progress)
    if config.uses_weak_labels:
        if gazetteer is not None:
            titles: Sequence[str] = ()
            if "course_titles" in config.weak_sources:
                titles = (
                    course_titles
                    if course_titles is not None
                    else titles_from_courses_file(data_dir / COURSES_RELATIVE_PATH)
                )
            context = WeakContext(
                gazetteer=gazetteer, train_sentences=train, course_titles=titles, nlp=spacy.blank("en"), rng=rng
            )
            weak = build_weak_examples(
                context, sources=config.weak_sources, limit=int(config.weak_fraction * len(train))
            )

    cased = [s for s in train if any(t != t.lower() for t in s.tokens)]
    lowercase_count = round(config.lowercase_fraction * len(cased))
    relabel = {"BAND": "ARTIST"} if config.lowercase_band_as_artist else None
    lowercased = tuple(s.lowercased(relabel) for s in rng.sample(cased, lowercase_count)) if lowercase_count else ()

    stats = {
        "train_sentences": {name: sizes[0] for name, sizes in split.sizes.items()},
        "validation_sentences": {name: sizes[1] for name, sizes in split.sizes.items()},
        "gold_train_total": len(train),
        "validation_total": len(validation),
        "lowercased_copies": len(lowercased),
        "weak": weak.to_dict() if weak else {"total_used": 0, "reason": _no_weak_reason(config, gazetteer)},
        "gazetteer": (
            {"counts": gazetteer.counts(), "sha256": gazetteer.fingerprint()} if gazetteer is not None else None
        ),
        "train_entities_by_label": dict(sorted(Counter(sp.label for s in train for sp in s.entities).items())),
    }
    return TrainingData(
        train=tuple(train),
        validation=tuple(validation),
        weak=weak,
        lowercased=lowercased,
        gazetteer=gazetteer,
        stats=stats,
    )


def _no_weak_reason(config: NerTrainingConfig, gazetteer: Gazetteer | None) -> str:
    if not config.uses_weak_labels:
        return "weak labels switched off in the config"
    if gazetteer is None:
        return "no graph store given"
    return "the graph holds no usable names"


@dataclass
class TrainedNer:
    nlp: Any
    best_epoch: int
    epochs_run: int
    history: list[dict[str, Any]]
    seconds: float
    validation: NerScores


def _blas_single_thread():
    """One BLAS thread: the machine is shared, and a fixed thread count keeps float sums reproducible."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with the pinned scientific stack
        return nullcontext()
    return threadpool_limits(limits=1)


def _examples(nlp, sentences: Sequence[LabeledSentence]):
    """Training examples; the predicted side gets the gazetteer features the pipeline computes at run time."""
    from spacy.training import Example

    annotators = [nlp.get_pipe(name) for name in FEATURE_COMPONENTS if name in nlp.pipe_names]
    examples = []
    for sentence in sentences:
        reference = sentence.to_doc(nlp.vocab)
        predicted = nlp.make_doc(reference.text)
        for annotate in annotators:
            predicted = annotate(predicted)
        examples.append(Example(predicted, reference))
    return examples


def _trainable(nlp: Language, name: str) -> TrainablePipe:
    """The trainable component ``name`` of ``nlp`` (spaCy types get_pipe()'s result as a plain callable)."""
    return cast("TrainablePipe", nlp.get_pipe(name))


def train_pipeline(config: NerTrainingConfig, data: TrainingData, *, progress: bool = True) -> TrainedNer:
    """Train ``tok2vec`` + ``ner`` on ``data``; stop when validation F1 has not improved for ``patience`` epochs.

    The returned pipeline holds the weights of the best validation epoch.
    """
    from spacy.util import compounding, fix_random_seed, minibatch
    from thinc.api import Adam
    from tqdm.auto import tqdm

    started = time.perf_counter()
    with _blas_single_thread():
        fix_random_seed(config.seed)
        nlp = build_pipeline(config)
        if GAZETTEER_COMPONENT in nlp.pipe_names and data.gazetteer is not None:
            gazetteer = cast("GraphGazetteer", nlp.get_pipe(GAZETTEER_COMPONENT))
            gazetteer.set_names(gazetteer_feature_names(data.gazetteer))
        examples = _examples(nlp, data.training_examples())
        if not examples:
            raise DataFileError("no training sentences: the configured train sources are empty.")
        optimizer = Adam(learn_rate=config.learn_rate, L2=0.01, grad_clip=1.0, use_averages=config.use_averages)
        initialize_pipeline(nlp, config, lambda: examples, sgd=optimizer)
        components = trainable_components(nlp)
        rng = random.Random(config.seed)
        sizes = compounding(config.batch_size_start, config.batch_size_end, config.batch_size_compound)
        best_f1 = -1.0
        best_epoch = 0
        best_state: tuple[bytes, ...] | None = None
        best_scores: NerScores | None = None
        history: list[dict[str, Any]] = []
        stale = 0
        bar = tqdm(range(1, config.epochs + 1), desc="NER epochs", unit="epoch", disable=not progress)
        for epoch in bar:
            rng.shuffle(examples)
            losses: dict[str, float] = {}
            with nlp.select_pipes(enable=list(components)):
                for batch in minibatch(examples, size=sizes):
                    nlp.update(batch, drop=config.dropout, sgd=optimizer, losses=losses)
            with nlp.use_params(optimizer.averages) if config.use_averages else nullcontext():
                scores = evaluate_pipeline(nlp, data.validation, labels=NER_LABELS)
                f1 = scores.micro.f1
                if f1 > best_f1:
                    best_f1, best_epoch, best_scores, stale = f1, epoch, scores, 0
                    best_state = tuple(_trainable(nlp, name).to_bytes(exclude=["vocab"]) for name in components)
                else:
                    stale += 1
            history.append(
                {
                    "epoch": epoch,
                    "loss_ner": round(float(losses.get("ner", 0.0)), 3),
                    "validation_micro_f1": round(f1, 4),
                }
            )
            bar.set_postfix(
                loss=f"{losses.get('ner', 0.0):.1f}", val_f1=f"{f1:.3f}", best=f"{best_f1:.3f}@{best_epoch}"
            )
            if stale >= config.patience:
                break
        bar.close()
        assert best_state is not None and best_scores is not None
        for name, state in zip(components, best_state):
            _trainable(nlp, name).from_bytes(state, exclude=["vocab"])
    return TrainedNer(
        nlp=nlp,
        best_epoch=best_epoch,
        epochs_run=len(history),
        history=history,
        seconds=time.perf_counter() - started,
        validation=best_scores,
    )


def evaluate_dev(nlp, dev: Mapping[str, Sequence[LabeledSentence]]) -> dict[str, NerScores]:
    """Scores on each dev set and on all of them together (the report only; nothing is chosen by it)."""
    from ingestion.ner.evaluation import predict_spans

    reports: dict[str, NerScores] = {}
    all_gold: list = []
    all_predicted: list = []
    unreachable = 0
    for name, sentences in dev.items():
        gold, predicted, missed = predict_spans(nlp, sentences)
        reports[name] = score_spans(gold, predicted, labels=NER_LABELS, unreachable_gold=missed)
        all_gold.extend(gold)
        all_predicted.extend(predicted)
        unreachable += missed
    reports["combined"] = score_spans(all_gold, all_predicted, labels=NER_LABELS, unreachable_gold=unreachable)
    return reports


def artist_band_merged_f1(nlp, sentences: Sequence[LabeledSentence]) -> dict[str, Any]:
    """Micro scores with BAND counted as ARTIST: MusicRecoNER's "Artist" covers bands, the NER labels do not."""
    from ingestion.ner.evaluation import predict_spans

    gold, predicted, missed = predict_spans(nlp, sentences)

    def merged(spans):
        return [[(s, e, "ARTIST" if label == "BAND" else label) for s, e, label in sentence] for sentence in spans]

    return score_spans(merged(gold), merged(predicted), unreachable_gold=missed).micro.to_dict()
