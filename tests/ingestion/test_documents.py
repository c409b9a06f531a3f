"""Reading documents for ingestion: formats, normalisation and every malformed input."""

from __future__ import annotations

import codecs
import json

import pytest

from core.errors import DocumentInputError
from ingestion.documents import (
    documents_from_bytes,
    html_to_text,
    markdown_to_text,
    normalise_text,
    read_documents,
    text_document,
)

LIMIT = 10_000


def test_plain_text_is_normalised_and_hashed_stably():
    a = documents_from_bytes(
        b"Miles Davis played trumpet.\r\nHe recorded Kind of Blue.  \n", name="a.txt", max_bytes=LIMIT
    )
    b = documents_from_bytes(b"Miles Davis played trumpet.\nHe recorded Kind of Blue.", name="b.txt", max_bytes=LIMIT)
    assert a[0].text == "Miles Davis played trumpet.\nHe recorded Kind of Blue."
    assert a[0].sha256 == b[0].sha256
    assert a[0].media_type == "text/plain"


def test_utf8_bom_and_utf16_are_accepted():
    text = "Björk sang with the Sugarcubes."
    assert documents_from_bytes(codecs.BOM_UTF8 + text.encode(), name="a.txt", max_bytes=LIMIT)[0].text == text
    assert documents_from_bytes(text.encode("utf-16"), name="a.txt", max_bytes=LIMIT)[0].text == text


def test_html_keeps_visible_text_title_and_line_breaks():
    html = "<html><head><title>Jazz</title><style>p{}</style></head><body><h1>Jazz</h1><p>Miles Davis &amp; Coltrane.</p><script>x()</script><p>Bebop.</p></body></html>"
    title, text = html_to_text(html)
    assert title == "Jazz"
    assert text.split("\n") == ["Jazz", "Miles Davis & Coltrane.", "Bebop."]
    doc = documents_from_bytes(html.encode(), name="page.html", max_bytes=LIMIT)[0]
    assert doc.title == "Jazz" and "x()" not in doc.text


def test_markdown_markup_is_removed():
    title, text = markdown_to_text(
        "# Blues\n\n**B.B. King** played [guitar](http://x).\n\n- *Lucille*\n```\ncode\n```\n"
    )
    assert title == "Blues"
    assert "B.B. King played guitar." in text
    assert "Lucille" in text and "code" not in text and "http" not in text


def test_jsonl_gives_one_document_per_line_named_by_id():
    data = "\n".join(
        [json.dumps({"id": "d1", "title": "One", "text": "Adele sings."}), "", json.dumps({"text": "Queen is a band."})]
    )
    docs = documents_from_bytes(data.encode(), name="batch.jsonl", max_bytes=LIMIT)
    assert [d.name for d in docs] == ["batch.jsonl#d1", "batch.jsonl:3"]
    assert docs[0].title == "One"


@pytest.mark.parametrize(
    "data, name, fragment",
    [
        (b"", "empty.txt", "is empty"),
        (b"   \n\n  ", "blank.txt", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image.txt", "binary"),
        ("Dvořák".encode("cp1250") + b" wrote symphonies", "latin.txt", "not UTF-8"),
        (b"x" * (LIMIT + 1), "huge.txt", "the limit is"),
        (b"text", "song.mp3", "unsupported file type"),
        (b"<html><script>1</script></html>", "empty.html", "no text left"),
    ],
)
def test_bad_documents_are_refused_with_the_file_named(data, name, fragment):
    with pytest.raises(DocumentInputError) as caught:
        documents_from_bytes(data, name=name, max_bytes=LIMIT)
    assert fragment in caught.value.message
    assert caught.value.path == name
    assert caught.value.code == "E030"


def test_wrong_encoding_names_the_line():
    data = b"line one\nline two\nCaf" + b"\xe9 society\n"
    with pytest.raises(DocumentInputError) as caught:
        documents_from_bytes(data, name="cafe.txt", max_bytes=LIMIT)
    assert caught.value.line == 3


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', '"text" string'),
        ('{"title": "no text"}', '"text" string'),
        ('{"text": "   "}', 'empty "text"'),
        ('{"text": "ok", "title": 3}', '"title" must be a string'),
    ],
)
def test_bad_jsonl_lines_name_file_and_line(line, fragment):
    data = json.dumps({"text": "Good line."}) + "\n" + line + "\n"
    with pytest.raises(DocumentInputError) as caught:
        documents_from_bytes(data.encode(), name="batch.jsonl", max_bytes=LIMIT)
    assert fragment in caught.value.message
    assert caught.value.line == 2


def test_read_documents_reads_folders_and_reports_bad_files_without_stopping(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Bach wrote fugues.")
    (tmp_path / "docs" / "b.md").write_text("# B\nMozart wrote operas.")
    (tmp_path / "docs" / "empty.txt").write_bytes(b"")
    (tmp_path / "docs" / "ignored.csv").write_text("a,b")
    documents, problems = read_documents([tmp_path / "docs", tmp_path / "missing.txt"], max_bytes=LIMIT)
    assert sorted(d.text for d in documents) == ["B\nMozart wrote operas.", "Bach wrote fugues."]
    messages = sorted(p.error.message for p in problems)
    assert any("missing.txt: does not exist" in m for m in messages)
    assert any("empty.txt: is empty" in m for m in messages)


def test_text_document_and_normalisation_helpers():
    assert normalise_text("a\r\nb\rc  ") == "a\nb\nc"
    # Zero-width and bidi controls are dropped before storing, so offsets index the stored text.
    document = text_document("Bee\u200bthoven met \u202eHaydn\u202c\ufeff in Vienna.\u2066", name="x")
    assert document.text == "Beethoven met Haydn in Vienna."
    assert document.text[14:19] == "Haydn"
    assert text_document("Hello", name="x").sha256 == text_document("Hello\n", name="y").sha256
