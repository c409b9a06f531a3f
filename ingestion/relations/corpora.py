"""Readers for CrossRE and FewRel, and their conversion into :class:`AnnotatedSentence` in our schema.

Why strict readers: a malformed line would otherwise surface much later as a shape error inside the
trainer. Every problem is a :class:`DataFileError` naming the file and the 1-based line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from core.errors import DataFileError
from ingestion.labels import CORPUS_LABEL_MAP
from ingestion.relations.corpus_mapping import FEWREL_MAPPINGS, fewrel_tail_label, map_crossre_relation
from ingestion.relations.records import AnnotatedSentence, MentionSpan
from ingestion.relations.schema import RELATIONS_BY_NAME

CROSSNER_CORPUS = "crossner"


class _Where(TypedDict):
    """Where a record was read, passed on to every :class:`DataFileError` about it."""

    path: str
    line: int


# --- raw records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrossReEntity:
    start: int  # inclusive token index
    end: int  # inclusive token index
    type: str


@dataclass(frozen=True)
class CrossReRelation:
    head: tuple[int, int]
    tail: tuple[int, int]
    label: str
    explanation: str


@dataclass(frozen=True)
class CrossReSentence:
    doc_key: str
    tokens: tuple[str, ...]
    entities: tuple[CrossReEntity, ...]
    relations: tuple[CrossReRelation, ...]
    path: str
    line: int


@dataclass(frozen=True)
class FewRelArgument:
    name: str
    start: int  # inclusive token index
    end: int  # exclusive token index


@dataclass(frozen=True)
class FewRelInstance:
    tokens: tuple[str, ...]
    head: FewRelArgument
    tail: FewRelArgument
    pid: str
    relation: str
    path: str
    line: int


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    if not path.is_file():
        raise DataFileError(
            "file not found; check LEITMOTIF_DATA_DIR (see /work/shared/data/README.md).", path=str(path)
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError(f"not UTF-8 text ({exc}).", path=str(path)) from exc
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield number, json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataFileError(
                f"not a JSON object ({exc.msg} at column {exc.colno}).", path=str(path), line=number
            ) from exc


def _tokens(value: Any, *, path: Path, line: int, key: str) -> tuple[tuple[str, ...], list[int]]:
    """The non-blank tokens and, for each original token, its index among them (-1 if it was blank).

    Why blank tokens are dropped rather than refused: the released FewRel file has a few tokens that are a
    lone no-break space or newline; they carry no word and would only break character offsets.
    """
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise DataFileError(f"{key!r} must be a non-empty list of strings.", path=str(path), line=line)
    kept: list[str] = []
    new_index: list[int] = []
    for token in value:
        if token.strip():
            new_index.append(len(kept))
            kept.append(" ".join(token.split()))
        else:
            new_index.append(-1)
    if not kept:
        raise DataFileError(f"{key!r} holds only blank tokens.", path=str(path), line=line)
    return tuple(kept), new_index


def _remap(first: int, last: int, new_index: list[int]) -> tuple[int, int] | None:
    """Inclusive original token range → inclusive range over kept tokens (``None`` if all were blank)."""
    inside = [new_index[i] for i in range(first, last + 1) if new_index[i] >= 0]
    return (inside[0], inside[-1]) if inside else None


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_crossre(path: Path | str) -> list[CrossReSentence]:
    """CrossRE JSON lines: ``sentence`` tokens, ``ner`` ``[start, end, type]`` (inclusive), ``relations``
    ``[head_start, head_end, tail_start, tail_end, label, Exp, Un, SA]`` whose spans must be ``ner`` spans."""
    path = Path(path)
    sentences: list[CrossReSentence] = []
    for line, obj in _json_lines(path):
        where: _Where = {"path": str(path), "line": line}
        if not isinstance(obj, dict):
            raise DataFileError("each line must be a JSON object with doc_key, sentence, ner and relations.", **where)
        missing = [key for key in ("sentence", "ner", "relations") if key not in obj]
        if missing:
            raise DataFileError(f"missing key(s) {', '.join(missing)}.", **where)
        tokens, new_index = _tokens(obj["sentence"], path=path, line=line, key="sentence")
        original_length = len(new_index)
        if not isinstance(obj["ner"], list) or not isinstance(obj["relations"], list):
            raise DataFileError("'ner' and 'relations' must be lists.", **where)
        entities: list[CrossReEntity] = []
        for item in obj["ner"]:
            if not (
                isinstance(item, list)
                and len(item) == 3
                and _is_index(item[0])
                and _is_index(item[1])
                and isinstance(item[2], str)
            ):
                raise DataFileError(f"ner entry {item!r:.60} must be [start, end, type].", **where)
            start, end, entity_type = item
            if not 0 <= start <= end < original_length:
                raise DataFileError(f"ner span [{start}, {end}] is outside the {original_length} tokens.", **where)
            entities.append(CrossReEntity(start, end, entity_type))
        spans = {(e.start, e.end) for e in entities}
        if len(spans) != len(entities):
            raise DataFileError("the same ner span is listed twice.", **where)
        remapped: dict[tuple[int, int], tuple[int, int]] = {}
        for entity in entities:
            span = _remap(entity.start, entity.end, new_index)
            if span is None:
                raise DataFileError(f"ner span [{entity.start}, {entity.end}] covers only blank tokens.", **where)
            remapped[(entity.start, entity.end)] = span
        relations: list[CrossReRelation] = []
        for item in obj["relations"]:
            if not (
                isinstance(item, list)
                and len(item) >= 5
                and all(_is_index(v) for v in item[:4])
                and isinstance(item[4], str)
            ):
                raise DataFileError(
                    f"relation entry {item!r:.60} must be [head_start, head_end, tail_start, tail_end, label, ...].",
                    **where,
                )
            head, tail = (item[0], item[1]), (item[2], item[3])
            if head not in spans or tail not in spans:
                raise DataFileError(f"relation {item[:5]!r} names a span that is not in 'ner'.", **where)
            explanation = item[5] if len(item) > 5 and isinstance(item[5], str) else ""
            relations.append(CrossReRelation(remapped[head], remapped[tail], item[4], explanation))
        doc_key = obj.get("doc_key")
        sentences.append(
            CrossReSentence(
                doc_key=doc_key if isinstance(doc_key, str) and doc_key else f"{path.name}:{line}",
                tokens=tokens,
                entities=tuple(CrossReEntity(*remapped[(e.start, e.end)], e.type) for e in entities),
                relations=tuple(relations),
                path=str(path),
                line=line,
            )
        )
    return sentences


def read_fewrel(path: Path | str) -> list[FewRelInstance]:
    """FewRel/Wiki80 JSON lines: ``token``, ``h``/``t`` with ``name`` and a half-open token ``pos``, ``pid``."""
    path = Path(path)
    instances: list[FewRelInstance] = []
    for line, obj in _json_lines(path):
        where: _Where = {"path": str(path), "line": line}
        if not isinstance(obj, dict):
            raise DataFileError("each line must be a JSON object with token, h, t and pid.", **where)
        missing = [key for key in ("token", "h", "t", "pid") if key not in obj]
        if missing:
            raise DataFileError(f"missing key(s) {', '.join(missing)}.", **where)
        tokens, new_index = _tokens(obj["token"], path=path, line=line, key="token")
        arguments = []
        for key in ("h", "t"):
            argument = obj[key]
            pos = argument.get("pos") if isinstance(argument, dict) else None
            if not (isinstance(pos, list) and len(pos) == 2 and all(_is_index(v) for v in pos)):
                raise DataFileError(f"{key!r} must be an object with 'pos': [start, end).", **where)
            if not 0 <= pos[0] < pos[1] <= len(new_index):
                raise DataFileError(f"{key!r} span {pos} is outside the {len(new_index)} tokens or empty.", **where)
            span = _remap(pos[0], pos[1] - 1, new_index)
            if span is None:
                raise DataFileError(f"{key!r} span {pos} covers only blank tokens.", **where)
            name = argument.get("name")
            arguments.append(
                FewRelArgument(
                    name if isinstance(name, str) else " ".join(tokens[span[0] : span[1] + 1]), span[0], span[1] + 1
                )
            )
        head, tail = arguments
        if head.start < tail.end and tail.start < head.end:
            raise DataFileError("the 'h' and 't' spans overlap.", **where)
        if not isinstance(obj["pid"], str) or not obj["pid"]:
            raise DataFileError("'pid' must be a Wikidata property id such as 'P86'.", **where)
        relation = obj.get("relation")
        instances.append(
            FewRelInstance(
                tokens, head, tail, obj["pid"], relation if isinstance(relation, str) else obj["pid"], str(path), line
            )
        )
    return instances


# --- conversion to our schema ----------------------------------------------------------------------


def detokenise(tokens: Sequence[str]) -> tuple[str, list[int]]:
    """Tokens joined by single spaces, with each token's start character offset."""
    starts: list[int] = []
    position = 0
    for token in tokens:
        starts.append(position)
        position += len(token) + 1
    return " ".join(tokens), starts


def _char_span(starts: list[int], tokens: Sequence[str], first: int, last_inclusive: int) -> tuple[int, int]:
    return starts[first], starts[last_inclusive] + len(tokens[last_inclusive])


@dataclass
class MappingReport:
    """What happened to the corpus relations (printed by the command, saved in metrics.json)."""

    sentences: int = 0
    corpus_relations: int = 0
    mapped: Counter = field(default_factory=Counter)
    reversed: int = 0
    dropped: Counter = field(default_factory=Counter)
    conflicts: int = 0
    unlabelled_mentions: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sentences": self.sentences,
            "corpus_relations": self.corpus_relations,
            "mapped": dict(sorted(self.mapped.items())),
            "reversed_to_our_direction": self.reversed,
            "dropped_unmapped": dict(self.dropped.most_common()),
            "conflicting_pairs": self.conflicts,
            "mentions_without_ner_label": dict(self.unlabelled_mentions.most_common()),
        }


def crossre_to_annotated(
    sentences: Sequence[CrossReSentence], *, source: str = "crossre", report: MappingReport | None = None
) -> list[AnnotatedSentence]:
    """Map CrossRE sentences onto our schema.

    Mentions whose CrossNER type has no NER label (``magazine``) are left out. When one ordered pair gets
    two different relations, the earlier rule of the table wins (the table is ordered by specificity).
    """
    report = report if report is not None else MappingReport()
    annotated: list[AnnotatedSentence] = []
    for sentence in sentences:
        report.sentences += 1
        text, starts = detokenise(sentence.tokens)
        mentions: list[MentionSpan] = []
        index_of: dict[tuple[int, int], int] = {}
        type_of: dict[tuple[int, int], str] = {}
        for entity in sentence.entities:
            type_of[(entity.start, entity.end)] = entity.type
            label = CORPUS_LABEL_MAP.get((CROSSNER_CORPUS, entity.type))
            if label is None:
                report.unlabelled_mentions[entity.type] += 1
                continue
            index_of[(entity.start, entity.end)] = len(mentions)
            start, end = _char_span(starts, sentence.tokens, entity.start, entity.end)
            mentions.append(MentionSpan(start, end, label))
        chosen: dict[tuple[int, int], tuple[int, str]] = {}
        excluded: set[tuple[int, int]] = set()
        for relation in sentence.relations:
            report.corpus_relations += 1
            head_type, tail_type = type_of[relation.head], type_of[relation.tail]
            mapped = map_crossre_relation(relation.label, head_type, tail_type, relation.explanation)
            h, t = index_of.get(relation.head), index_of.get(relation.tail)
            if h is None or t is None or h == t:
                report.dropped[f"{relation.label} ({head_type}, {tail_type})"] += 1
                continue
            if mapped is None:
                report.dropped[f"{relation.label} ({head_type}, {tail_type})"] += 1
                excluded.update({(h, t), (t, h)})
                continue
            report.mapped[mapped.relation] += 1
            if mapped.reversed:
                report.reversed += 1
                h, t = t, h
            pairs = [(h, t), (t, h)] if RELATIONS_BY_NAME[mapped.relation].symmetric else [(h, t)]
            for pair in pairs:
                previous = chosen.get(pair)
                if previous is not None and previous[1] != mapped.relation:
                    report.conflicts += 1
                if previous is None or mapped.rule_index < previous[0]:
                    chosen[pair] = (mapped.rule_index, mapped.relation)
        relations = {pair: relation for pair, (_, relation) in chosen.items()}
        # A pair with a modelled relation is a positive even if another, unmodelled relation also names it.
        excluded -= set(relations)
        annotated.append(
            AnnotatedSentence(
                id=f"{source}:{sentence.doc_key}",
                source=source,
                text=text,
                mentions=tuple(mentions),
                relations=relations,
                excluded=frozenset(excluded),
            )
        )
    return annotated


def crossner_gazetteer(sentences: Sequence[CrossReSentence]) -> dict[str, str]:
    """Lower-cased mention text → its most frequent NER label in CrossNER annotations (ties: first seen)."""
    votes: dict[str, Counter] = {}
    for sentence in sentences:
        for entity in sentence.entities:
            label = CORPUS_LABEL_MAP.get((CROSSNER_CORPUS, entity.type))
            if label is None:
                continue
            name = " ".join(sentence.tokens[entity.start : entity.end + 1]).lower()
            votes.setdefault(name, Counter())[label] += 1
    return {name: counter.most_common(1)[0][0] for name, counter in votes.items()}


def fewrel_to_annotated(
    instances: Sequence[FewRelInstance],
    *,
    gazetteer: Mapping[str, str] | None = None,
    report: MappingReport | None = None,
) -> list[AnnotatedSentence]:
    """Map FewRel instances onto our schema: direction per :data:`FEWREL_MAPPINGS`, NER labels from the
    gazetteer (CrossNER's label for the same name) or the property's defaults.

    An instance whose gazetteer labels do not fit the relation (a P264 record label whose head is a known
    album) is dropped: our SIGNED_TO joins acts and labels, not works and labels.
    """
    report = report if report is not None else MappingReport()
    gazetteer = gazetteer or {}
    annotated: list[AnnotatedSentence] = []
    for instance in instances:
        report.sentences += 1
        report.corpus_relations += 1
        mapping = FEWREL_MAPPINGS.get(instance.pid)
        if mapping is None:
            report.dropped[f"{instance.pid} ({instance.relation})"] += 1
            continue
        ours_head, ours_tail = (instance.tail, instance.head) if mapping.reverse else (instance.head, instance.tail)
        text, starts = detokenise(instance.tokens)

        def span_text(argument: FewRelArgument, tokens: Sequence[str] = instance.tokens) -> str:
            return " ".join(tokens[argument.start : argument.end])

        head_label = gazetteer.get(span_text(ours_head).lower(), mapping.head_label)
        tail_label = gazetteer.get(span_text(ours_tail).lower(), fewrel_tail_label(mapping, span_text(ours_tail)))
        if not RELATIONS_BY_NAME[mapping.relation].allows(head_label, tail_label):
            report.dropped[f"{instance.pid} with {head_label} → {tail_label}"] += 1
            continue
        report.mapped[mapping.relation] += 1
        if mapping.reverse:
            report.reversed += 1
        head = MentionSpan(*_char_span(starts, instance.tokens, ours_head.start, ours_head.end - 1), head_label)
        tail = MentionSpan(*_char_span(starts, instance.tokens, ours_tail.start, ours_tail.end - 1), tail_label)
        relations = {(0, 1): mapping.relation}
        if RELATIONS_BY_NAME[mapping.relation].symmetric:
            relations[(1, 0)] = mapping.relation
        annotated.append(
            AnnotatedSentence(
                id=f"fewrel:{Path(instance.path).name}:{instance.line}",
                source="fewrel",
                text=text,
                mentions=(head, tail),
                relations=relations,
            )
        )
    return annotated
