"""Tiny NER corpora in the BIO file format, written from ``(text, [(start, end, label), ...])`` sentences.

Used by the NER tests and by the ingestion-pipeline tests, which train a tiny NER model on them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ingestion.ner.corpora import LabeledSentence, read_bio_file


def bio_text(sentences) -> str:
    blocks = []
    for text, spans in sentences:
        tokens = text.split()
        tags = ["O"] * len(tokens)
        for start, end, label in spans:
            tags[start] = f"B-{label}"
            for i in range(start + 1, end):
                tags[i] = f"I-{label}"
        blocks.append("\n".join(f"{t}\t{g}" for t, g in zip(tokens, tags)))
    return "\n\n".join(blocks) + "\n"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def read_bio_text(text: str, *, corpus: str) -> list[LabeledSentence]:
    with tempfile.TemporaryDirectory() as folder:
        return read_bio_file(write(Path(folder) / "corpus.bio", text), corpus=corpus)
