"""How well requests are understood, against hand-labelled requests (``tests/recommender/data/nl_requests.jsonl``).

Each labelled request lists the graph things it names by *name* (artists, genre tags, instruments,
concepts), its level, moods and whether it asks for music or courses. Names rather than ids keep the
labels readable and valid for any load of the same data. Scored per field as micro precision/recall/F1
over (field, value) pairs, plus the share of requests understood exactly (every field right).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recommender.understanding.parse import ParsedRequest, RequestParser

ENTITY_FIELDS = {"artists": "artist", "genres": "genre", "instruments": "instrument", "concepts": "concept"}
FIELDS = (*ENTITY_FIELDS, "level", "moods", "kind")


@dataclass(frozen=True)
class LabelledRequest:
    text: str
    expected: Mapping[str, frozenset[str]]
    line: int


def read_labelled_requests(path: Path | str) -> list[LabelledRequest]:
    rows = []
    for line_number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        data = json.loads(line)
        expected = {field: frozenset(_fold(v) for v in data.get(field) or ()) for field in (*ENTITY_FIELDS, "moods")}
        expected["level"] = frozenset([_fold(data["level"])] if data.get("level") else [])
        expected["kind"] = frozenset([_fold(data["kind"])])
        rows.append(LabelledRequest(text=data["text"], expected=expected, line=line_number))
    return rows


def understood_fields(parsed: ParsedRequest) -> dict[str, frozenset[str]]:
    """The parse in the labels' terms (names of linked entities, folded)."""
    found = {field: frozenset(_fold(u.name) for u in parsed.of(role)) for field, role in ENTITY_FIELDS.items()}
    found["moods"] = frozenset(_fold(m) for m in parsed.moods)
    found["level"] = frozenset([_fold(parsed.level)] if parsed.level else [])
    found["kind"] = frozenset([parsed.kind])
    return found


def score_requests(parser: RequestParser, requests: Sequence[LabelledRequest]) -> dict[str, Any]:
    counts = {field: [0, 0, 0] for field in FIELDS}  # true positives, predicted, expected
    exact = 0
    mistakes = []
    for request in requests:
        found = understood_fields(parser.parse(request.text))
        right = True
        for field in FIELDS:
            got, want = found[field], request.expected[field]
            counts[field][0] += len(got & want)
            counts[field][1] += len(got)
            counts[field][2] += len(want)
            if got != want:
                right = False
        exact += right
        if not right:
            mistakes.append(
                {
                    "line": request.line,
                    "text": request.text,
                    "expected": _plain(request.expected),
                    "found": _plain(found),
                }
            )
    per_field = {field: _prf(*counts[field]) for field in FIELDS}
    total = [sum(counts[f][i] for f in FIELDS) for i in range(3)]
    return {
        "requests": len(requests),
        "exact_match": round(exact / len(requests), 4) if requests else 0.0,
        "micro": _prf(*total),
        "per_field": per_field,
        "mistakes": mistakes,
    }


def _prf(tp: int, predicted: int, expected: int) -> dict[str, float]:
    precision = tp / predicted if predicted else 1.0
    recall = tp / expected if expected else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": expected}


def _fold(value: str) -> str:
    return " ".join(str(value).split()).casefold()


def _plain(fields: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    return {k: sorted(v) for k, v in fields.items() if v}
