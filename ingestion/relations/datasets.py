"""The training, validation and development splits, built the same way by training and benchmarks.

* dev (reporting only, never trained on, never used for a choice): a seeded 20 % of the CrossRE pool
  (``re_train`` + ``re_dev``, grouped by text; or a separate ``crossre_dev_file``) mapped to our schema,
  and a seeded fold of FewRel (stratified by relation, grouped by sentence text). Reported per source.
* train: the rest of the CrossRE pool + the rest of FewRel (capped per relation), minus any sentence
  whose text is also in dev (the official CrossNER splits repeat some sentences), plus optional
  distant-supervision labels. ``re_test_part_shared`` is never in it: it is the end-to-end test set.
* validation: a seeded slice of train (grouped by text, per source) for early stopping, the NONE offset,
  the temperature, the confidence calibrator and (end to end) the auto-accept threshold. Carved after
  distant supervision, so it looks like the rest of train.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigurationError
from ingestion.relations.config import RelationTrainingConfig
from ingestion.relations.corpora import (
    MappingReport,
    crossner_gazetteer,
    crossre_to_annotated,
    fewrel_to_annotated,
    read_crossre,
    read_fewrel,
)
from ingestion.relations.records import AnnotatedSentence
from ingestion.relations.schema import NONE_RELATION


@dataclass
class RelationDatasets:
    train: list[AnnotatedSentence]
    validation: list[AnnotatedSentence]
    dev: list[AnnotatedSentence]
    report: dict[str, Any] = field(default_factory=dict)

    def sizes(self) -> dict[str, dict[str, int]]:
        return {name: split_summary(getattr(self, name)) for name in ("train", "validation", "dev")}


def split_summary(sentences: Sequence[AnnotatedSentence]) -> dict[str, int]:
    labels = Counter(label for s in sentences for _, _, label in s.labelled_pairs())
    return {"sentences": len(sentences), "pairs": sum(labels.values()), **{k: labels[k] for k in sorted(labels)}}


def text_key(text: str) -> str:
    """Sentence identity for splitting: case and spacing do not make two sentences different."""
    return " ".join(text.split()).casefold()


def resolve_data_path(relative: str, data_dir: Path) -> Path:
    path = Path(relative)
    return path if path.is_absolute() else data_dir / path


def stratified_group_split(
    sentences: Sequence[AnnotatedSentence], *, fraction: float, seed: int, stratum: Callable[[AnnotatedSentence], str]
) -> tuple[list[AnnotatedSentence], list[AnnotatedSentence]]:
    """Split into (kept, held out): whole text groups move together; each stratum gives ``fraction`` of its groups."""
    if fraction <= 0:
        return list(sentences), []
    groups: dict[str, list[AnnotatedSentence]] = defaultdict(list)
    for sentence in sentences:
        groups[text_key(sentence.text)].append(sentence)
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for key, members in groups.items():
        by_stratum[stratum(members[0])].append(key)
    rng = random.Random(seed)
    held: set[str] = set()
    for name in sorted(by_stratum):
        keys = sorted(by_stratum[name])
        rng.shuffle(keys)
        count = int(round(fraction * len(keys)))
        if len(keys) > 1:
            count = min(max(count, 1), len(keys) - 1)
        else:
            count = 0
        held.update(keys[:count])
    kept = [s for s in sentences if text_key(s.text) not in held]
    out = [s for s in sentences if text_key(s.text) in held]
    return kept, out


def cap_per_relation(sentences: Sequence[AnnotatedSentence], *, limit: int, seed: int) -> list[AnnotatedSentence]:
    """At most ``limit`` sentences per (first) relation, a seeded sample; the input order is kept."""
    by_relation: dict[str, list[int]] = defaultdict(list)
    for index, sentence in enumerate(sentences):
        by_relation[_first_relation(sentence)].append(index)
    rng = random.Random(seed + 2)
    kept: set[int] = set()
    for name in sorted(by_relation):
        indices = by_relation[name]
        kept.update(indices if len(indices) <= limit else rng.sample(indices, limit))
    return [sentence for index, sentence in enumerate(sentences) if index in kept]


def _first_relation(sentence: AnnotatedSentence) -> str:
    return sorted(sentence.relations.values())[0] if sentence.relations else NONE_RELATION


def build_relation_datasets(
    config: RelationTrainingConfig,
    *,
    data_dir: Path | str,
    distant: Callable[[list[AnnotatedSentence]], tuple[list[AnnotatedSentence], dict[str, Any]]] | None = None,
) -> RelationDatasets:
    """Read every corpus of ``config`` under ``data_dir`` and return the three splits with a report.

    ``distant``: a function adding distant-supervision labels to training sentences (see
    :mod:`.distant`); ``None`` skips it. It is given train+validation before the validation slice is cut.
    """
    data_dir = Path(data_dir)
    crossre_report = MappingReport()
    crossre_train_raw = [s for f in config.crossre_train_files for s in read_crossre(resolve_data_path(f, data_dir))]
    crossre_train = crossre_to_annotated(crossre_train_raw, report=crossre_report)
    dev_report = MappingReport()
    if config.crossre_dev_file is not None:
        crossre_dev = crossre_to_annotated(
            read_crossre(resolve_data_path(config.crossre_dev_file, data_dir)), report=dev_report
        )
    else:
        crossre_train, crossre_dev = stratified_group_split(
            crossre_train, fraction=config.crossre_report_fraction, seed=config.seed + 3, stratum=lambda s: s.source
        )

    fewrel_train: list[AnnotatedSentence] = []
    fewrel_dev: list[AnnotatedSentence] = []
    fewrel_report = MappingReport()
    if config.fewrel_file is not None:
        # Labels of FewRel arguments come from CrossNER's *training* annotations only, never from dev.
        gazetteer = crossner_gazetteer(crossre_train_raw)
        fewrel = fewrel_to_annotated(
            read_fewrel(resolve_data_path(config.fewrel_file, data_dir)), gazetteer=gazetteer, report=fewrel_report
        )
        fewrel_train, fewrel_dev = stratified_group_split(
            fewrel, fraction=config.fewrel_dev_fraction, seed=config.seed, stratum=_first_relation
        )
        if config.fewrel_max_per_relation is not None:
            fewrel_train = cap_per_relation(fewrel_train, limit=config.fewrel_max_per_relation, seed=config.seed)

    dev = crossre_dev + fewrel_dev
    dev_texts = {text_key(s.text) for s in dev}
    held_out_texts: set[str] = set()
    for held_file in config.held_out_files:
        held_path = resolve_data_path(held_file, data_dir)
        if held_path.is_file():
            held_out_texts |= {text_key(s.text) for s in crossre_to_annotated(read_crossre(held_path))}
    dev = [s for s in dev if text_key(s.text) not in held_out_texts]
    candidates = crossre_train + fewrel_train
    train = [s for s in candidates if text_key(s.text) not in dev_texts]
    removed = len(candidates) - len(train)
    kept = [s for s in train if text_key(s.text) not in held_out_texts]
    removed_held_out = len(train) - len(kept)
    train = kept

    distant_report: dict[str, Any] = {"enabled": distant is not None}
    if distant is not None:
        train, details = distant(train)
        distant_report.update(details)

    train, validation = stratified_group_split(
        train, fraction=config.validation_fraction, seed=config.seed + 1, stratum=lambda s: s.source
    )
    if not train:
        raise ConfigurationError(
            "No training sentences are left after removing dev sentences and the validation slice."
        )
    report = {
        "data_dir": str(data_dir),
        "crossre_train_mapping": crossre_report.to_dict(),
        "crossre_dev_mapping": dev_report.to_dict(),
        "fewrel_mapping": fewrel_report.to_dict(),
        "fewrel_sentences": {"train": len(fewrel_train), "dev": len(fewrel_dev)},
        "train_sentences_removed_as_also_in_dev": removed,
        "sentences_removed_as_in_held_out_files": removed_held_out,
        "crossre_dev": config.crossre_dev_file or f"{config.crossre_report_fraction:.0%} of the CrossRE pool",
        "crossre_report_ids": [s.id for s in crossre_dev],
        "validation_ids": [s.id for s in validation],
        "distant_supervision": distant_report,
    }
    return RelationDatasets(train=train, validation=validation, dev=dev, report=report)
