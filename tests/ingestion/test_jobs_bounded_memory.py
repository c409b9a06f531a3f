"""Ingestion memory is bounded whatever the line length: the NER model sees a document in bounded pieces.

A 1.9 MB single-line document once went to spaCy in one call (32 s, 4.9 GB). These tests use a real spaCy
pipeline (blank English, the sentencizer and an entity ruler, wrapped in the project's ``NerModel``) on
multi-megabyte single-line documents and check the pieces it is given, and that sentences and mentions
keep their offsets into the whole document.
"""

from __future__ import annotations

import pytest
import spacy

from core.errors import DocumentInputError
from ingestion.documents import MAX_CHUNK_CHARS, ChunkedNer, text_chunks
from ingestion.ner.model import NerModel

SENTENCE = "Bach wrote a fugue for Anna Magdalena in Leipzig. "
#: About 2 KB: two or three sentences per piece (spaCy's cost per piece grows with sentences x tokens).
LONG_SENTENCE = "Bach wrote " + "a long and winding fugue subject, " * 60 + "in Leipzig. "


@pytest.fixture(scope="module")
def ner() -> NerModel:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "ARTIST", "pattern": "Bach"}, {"label": "PLACE", "pattern": "Leipzig"}])
    return NerModel(nlp, version="test-blank-en")


def _pieces_cover(text: str, max_chars: int) -> list[tuple[int, str]]:
    pieces = list(text_chunks(text, max_chars=max_chars))
    assert "".join(piece for _, piece in pieces) == text
    assert all(text[offset : offset + len(piece)] == piece for offset, piece in pieces)
    assert all(0 < len(piece) <= max_chars for _, piece in pieces)
    assert len(pieces) <= 2 * len(text) / max_chars + 1
    return pieces


def test_a_multi_megabyte_single_line_is_cut_into_bounded_pieces_at_sentence_ends():
    text = (SENTENCE * 50_000).strip()  # 2.5 MB, no line break
    assert "\n" not in text and len(text) > 2_000_000
    pieces = _pieces_cover(text, MAX_CHUNK_CHARS)
    assert all(piece.endswith(". ") for _, piece in pieces[:-1])  # never inside a sentence


def test_pieces_prefer_line_breaks_then_spaces_then_a_hard_cut():
    lines = ("word " * 300 + "\n") * 20
    assert all(piece.endswith("\n") for _, piece in _pieces_cover(lines, 4000)[:-1])
    no_punctuation = "word " * 600_000  # 3 MB, one line, no sentence end
    assert all(piece.endswith(" ") for _, piece in _pieces_cover(no_punctuation, MAX_CHUNK_CHARS)[:-1])
    no_spaces = "a" * 3_000_000
    assert [len(piece) for _, piece in _pieces_cover(no_spaces, 1_000_000)] == [1_000_000] * 3


@pytest.mark.parametrize("max_chars", [0, 1, 2.5, True])
def test_a_bad_piece_size_is_refused(max_chars):
    with pytest.raises(ValueError, match="max_chars"):
        list(text_chunks("text", max_chars=max_chars))


def test_the_ner_model_sees_a_2_mb_line_in_bounded_pieces_with_offsets_into_the_whole_text(ner):
    text = (LONG_SENTENCE * 1_050).strip()  # 2.1 MB on one line
    with pytest.raises(DocumentInputError, match="at most"):
        ner.extract_sentences(text)  # in one piece it is refused (more than spaCy's max_length)
    chunked = ChunkedNer(ner)
    sentences = chunked.extract_sentences(text)
    assert chunked.version == "test-blank-en"
    assert max(chunked.calls) <= MAX_CHUNK_CHARS and sum(chunked.calls) == len(text)
    assert len(chunked.calls) >= len(text) // MAX_CHUNK_CHARS
    assert len(sentences) == 1_050
    assert [s.index for s in sentences] == list(range(len(sentences)))
    for sentence in sentences[::97] + sentences[-3:]:
        assert text[sentence.start : sentence.end] == sentence.text == LONG_SENTENCE.strip()
        assert [(m.text, m.label) for m in sentence.mentions] == [("Bach", "ARTIST"), ("Leipzig", "PLACE")]
        for mention in sentence.mentions:
            assert text[mention.start : mention.end] == mention.text and mention.sentence_index == sentence.index


def test_a_short_text_is_one_piece_and_unchanged(ner):
    text = "Bach lived in Leipzig.\nHe wrote fugues."
    chunked = ChunkedNer(ner)
    assert chunked.extract_sentences(text) == ner.extract_sentences(text) and chunked.calls == [len(text)]
