"""Reading documents for ingestion: files, folders and uploaded text, checked before anything is stored.

Why so strict here: everything after this point assumes clean Unicode text. A binary file, a wrong
encoding or a 200 MB dump must be refused with a message naming the file (and line, for JSONL) before a
single mention is extracted, and the refusal of one file must not stop the others.

Supported inputs: ``.txt`` (plain text), ``.md`` (Markdown: markup removed, text kept), ``.html``/``.htm``
(tags, scripts and styles removed, block elements become line breaks, ``<title>`` kept as the title) and
``.jsonl`` (one JSON object per line with a ``"text"`` string and optional ``"title"`` and ``"id"``/``"name"``;
each line is a document of its own).

Bounded pieces: the NER model never sees more than :data:`MAX_CHUNK_CHARS` characters at once, whatever
the line length (a 1.9 MB single-line document once took 32 s and 4.9 GB in one spaCy call).
:func:`text_chunks` cuts a text into pieces at line breaks, else sentence ends, else spaces, and
:class:`ChunkedNer` runs any NER component piece by piece and shifts the offsets back, so sentences and
mentions keep their offsets into the whole document.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from core.errors import DocumentInputError, LeitmotifError

SUPPORTED_SUFFIXES: dict[str, str] = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".jsonl": "application/jsonl",
}
MEDIA_TYPES = frozenset(SUPPORTED_SUFFIXES.values())

#: Share of control characters (other than tab, newline, carriage return, form feed) above which a
#: decodable byte string is still treated as binary.
_MAX_CONTROL_SHARE = 0.01


@dataclass(frozen=True)
class TextDocument:
    """A document ready for the pipeline: normalised text plus where it came from."""

    name: str
    text: str
    media_type: str = "text/plain"
    title: str = ""

    @property
    def sha256(self) -> str:
        return text_sha256(self.text)


@dataclass(frozen=True)
class DocumentProblem:
    """A file or line that could not be read (or a document that failed to ingest); reported, and the rest go on."""

    name: str
    error: LeitmotifError


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: Invisible characters that split a name for NER and linking ("Bee\u200bthoven") without changing what a
#: reader sees: zero-width space/non-joiner/joiner, word joiner, byte-order mark, soft hyphen, and the
#: bidirectional marks, embeddings, overrides and isolates (U+200E/F, U+202A-E, U+2066-9).
INVISIBLE_CHARACTERS = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)


def normalise_text(text: str) -> str:
    """NFC, Unix line ends, no trailing spaces, no invisible characters: the same text always gets the same
    hash and offsets, and the offsets of mentions are offsets into exactly this (stored) text."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n").translate(INVISIBLE_CHARACTERS))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def media_type_for(name: str) -> str:
    suffix = Path(name).suffix.lower()
    try:
        return SUPPORTED_SUFFIXES[suffix]
    except KeyError:
        raise DocumentInputError(
            f"unsupported file type {suffix or '(no suffix)'!r}; ingest one of {', '.join(sorted(SUPPORTED_SUFFIXES))}.",
            path=name,
        ) from None


def decode_text(data: bytes, *, name: str) -> str:
    """Bytes -> str, refusing binary data and anything that is not UTF-8 (or UTF-16 with a BOM)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentInputError(
                f"starts with a UTF-16 byte-order mark but is not valid UTF-16 ({exc.reason}).", path=name
            ) from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DocumentInputError(
            f"looks like a binary file (NUL byte at offset {nul}); ingest text files only (.txt, .md, .html, .jsonl).",
            path=name,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DocumentInputError(
            f"is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} cannot be decoded "
            "(the file is probably Latin-1 or Windows-1252); re-save it as UTF-8.",
            path=name,
            line=line,
        ) from None
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    if text and controls / len(text) > _MAX_CONTROL_SHARE:
        raise DocumentInputError(
            f"looks like a binary file ({controls} control characters in {len(text)}); ingest text files only.",
            path=name,
        )
    return text


class _HtmlText(HTMLParser):
    """Visible text of an HTML page; block elements end lines so sentences do not run together."""

    _BLOCKS = frozenset(
        "address article aside blockquote br dd div dl dt figcaption footer h1 h2 h3 h4 h5 h6 header hr li main "
        "nav ol p pre section table td th tr ul".split()
    )
    _HIDDEN = frozenset({"script", "style", "noscript", "template", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._hidden = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif not self._hidden:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """(title, text) of an HTML document."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    return " ".join("".join(parser.title_parts).split()), "\n".join(line for line in lines if line)


_MD_RULES: Sequence[tuple[re.Pattern[str], str]] = (
    (re.compile(r"^```.*?^```", re.S | re.M), ""),  # fenced code
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links -> link text
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),  # headings
    (re.compile(r"^\s{0,3}>\s?", re.M), ""),  # block quotes
    (re.compile(r"^\s*[-*+]\s+", re.M), ""),  # bullets
    (re.compile(r"^\s*\d+[.)]\s+", re.M), ""),  # numbered lists
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])([*_])(?!\s)(.+?)(?<!\s)\1(?![\w*])"), r"\2"),  # italics
    (re.compile(r"`([^`]*)`"), r"\1"),  # inline code
    (re.compile(r"^\s*([-*_]\s*){3,}$", re.M), ""),  # rules
)


def markdown_to_text(markdown: str) -> tuple[str, str]:
    """(title, text) of a Markdown document; the first heading is the title."""
    heading = re.search(r"^\s{0,3}#\s+(.+)$", markdown, re.M)
    text = markdown
    for pattern, replacement in _MD_RULES:
        text = pattern.sub(replacement, text)
    return (heading.group(1).strip() if heading else ""), text


def documents_from_bytes(
    data: bytes, *, name: str, media_type: str | None = None, max_bytes: int
) -> list[TextDocument]:
    """Every document in one file's bytes (JSONL holds many); raises :class:`DocumentInputError`."""
    media_type = media_type or media_type_for(name)
    if media_type not in MEDIA_TYPES:
        raise DocumentInputError(
            f"unsupported media type {media_type!r}; use one of {', '.join(sorted(MEDIA_TYPES))}.", path=name
        )
    if len(data) > max_bytes:
        raise DocumentInputError(
            f"is {len(data):,} bytes; the limit is {max_bytes:,} (INGESTION_MAX_DOCUMENT_BYTES). Split it into smaller documents.",
            path=name,
        )
    if not data.strip():
        raise DocumentInputError("is empty; there is no text to ingest.", path=name)
    text = decode_text(data, name=name)
    if media_type == "application/jsonl":
        return list(_jsonl_documents(text, name=name))
    return [text_document(text, name=name, media_type=media_type)]


def text_document(text: str, *, name: str, media_type: str = "text/plain", title: str = "") -> TextDocument:
    """One document from already-decoded text (API submissions, JSONL lines)."""
    if media_type == "text/html":
        found_title, text = html_to_text(text)
        title = title or found_title
    elif media_type == "text/markdown":
        found_title, text = markdown_to_text(text)
        title = title or found_title
    text = normalise_text(text)
    if not text.strip():
        raise DocumentInputError("has no text left to ingest (only markup or whitespace).", path=name)
    return TextDocument(name=name, text=text, media_type=media_type, title=title.strip())


def _jsonl_documents(text: str, *, name: str) -> Iterator[TextDocument]:
    found = False
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DocumentInputError(
                f"is not valid JSON ({exc.msg} at column {exc.colno}).", path=name, line=line_number
            ) from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise DocumentInputError(
                'must be a JSON object with a "text" string, e.g. {"title": "...", "text": "..."}.',
                path=name,
                line=line_number,
            )
        title = row.get("title") or ""
        if not isinstance(title, str):
            raise DocumentInputError('"title" must be a string.', path=name, line=line_number)
        ident = row.get("id", row.get("name"))
        document_name = f"{name}#{ident}" if ident not in (None, "") else f"{name}:{line_number}"
        try:
            yield text_document(row["text"], name=document_name, title=title)
        except DocumentInputError:
            raise DocumentInputError('has an empty "text".', path=name, line=line_number) from None
        found = True
    if not found:
        raise DocumentInputError("holds no JSON lines; there is nothing to ingest.", path=name)


def expand_paths(paths: Iterable[Path | str]) -> tuple[list[Path], list[DocumentProblem]]:
    """Files to read: given files as they are, folders searched recursively for supported suffixes."""
    files: list[Path] = []
    problems: list[DocumentProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
            if not found:
                problems.append(
                    DocumentProblem(
                        str(path),
                        DocumentInputError(f"holds no {', '.join(sorted(SUPPORTED_SUFFIXES))} files.", path=str(path)),
                    )
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(DocumentProblem(str(path), DocumentInputError("does not exist.", path=str(path))))
    return list(dict.fromkeys(files)), problems


def read_documents(paths: Iterable[Path | str], *, max_bytes: int) -> tuple[list[TextDocument], list[DocumentProblem]]:
    """All readable documents under ``paths`` and a problem for each file that cannot be read."""
    files, problems = expand_paths(paths)
    documents: list[TextDocument] = []
    for path in files:
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise DocumentInputError(
                    f"is {size:,} bytes; the limit is {max_bytes:,} (INGESTION_MAX_DOCUMENT_BYTES). Split it into smaller documents.",
                    path=str(path),
                )
            documents.extend(documents_from_bytes(path.read_bytes(), name=str(path), max_bytes=max_bytes))
        except DocumentInputError as exc:
            problems.append(DocumentProblem(str(path), exc))
        except OSError as exc:
            problems.append(
                DocumentProblem(str(path), DocumentInputError(f"cannot be read ({exc.strerror}).", path=str(path)))
            )
    return documents, problems


# --- bounded pieces for the NER model -----------------------------------------------------------------

#: Most characters the NER model is given in one call (about 800 tokens). spaCy's memory grows with the
#: length of one call's text, and turning a processed text into sentences costs sentences x tokens of
#: that text (each ``Doc.text`` rebuilds the whole string), so the cost of a document grows with its
#: length times this, not with its length squared. A piece ends at a sentence end when the sentence is
#: shorter than half of this (2,000 characters), which any prose sentence is.
MAX_CHUNK_CHARS = 4_000

#: A sentence end followed by whitespace: ". ", "?\n", '." ' (closing quotes and brackets included).
_SENTENCE_END = re.compile(r"[.!?;:][\"'\u2019\u201d)\]]*\s+")


def text_chunks(text: str, *, max_chars: int = MAX_CHUNK_CHARS) -> Iterator[tuple[int, str]]:
    """``(offset, piece)`` pairs that cover ``text`` in order, each piece at most ``max_chars`` long.

    A piece ends after the last line break of its window, else after its last sentence end, else after its
    last space, else at ``max_chars`` (a text without spaces). Only the second half of a window is searched
    for a cut, so every piece is at least half a window long (except the last) and the number of pieces is
    at most ``2 * len(text) / max_chars + 1``. ``"".join(pieces) == text`` and ``text[offset:offset+len(piece)] == piece``.
    """
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 2:
        raise ValueError(f"max_chars must be an integer of at least 2, got {max_chars!r}.")
    start, length = 0, len(text)
    while start < length:
        end = start + max_chars
        if end >= length:
            yield start, text[start:]
            return
        cut = _cut(text, start + max_chars // 2, end)
        yield start, text[start:cut]
        start = cut


def _cut(text: str, low: int, high: int) -> int:
    """Where to end a piece inside ``text[low:high]`` (see :func:`text_chunks`)."""
    newline = text.rfind("\n", low, high)
    if newline >= 0:
        return newline + 1
    last = None
    for last in _SENTENCE_END.finditer(text, low, high):  # noqa: B007 - the last match is the one wanted
        pass
    if last is not None:
        return last.end()
    space = max(text.rfind(" ", low, high), text.rfind("\t", low, high))
    if space >= 0:
        return space + 1
    return high


class ChunkedNer:
    """A NER component run on bounded pieces of a text (:func:`text_chunks`), with offsets into the whole text.

    ``extract_sentences(text)`` returns the same kind of sentences as the wrapped component's (any dataclass
    with ``index``, ``start``, ``end`` and ``mentions`` whose items have ``start``, ``end`` and
    ``sentence_index``): indices run on across pieces, offsets are shifted by each piece's offset. Every
    other attribute (``version``, ``labels``...) is the wrapped component's. ``calls`` records the length
    of each piece given to the model (the most recent text only), which is what bounds its memory.
    """

    def __init__(self, ner: Any, *, max_chars: int = MAX_CHUNK_CHARS) -> None:
        self.ner = ner
        self.max_chars = max_chars
        self.calls: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ner, name)

    def extract_sentences(self, text: str) -> list[Any]:
        sentences: list[Any] = []
        self.calls = []
        for offset, piece in text_chunks(text, max_chars=self.max_chars):
            if not piece.strip():
                continue
            self.calls.append(len(piece))
            for sentence in self.ner.extract_sentences(piece):
                index = len(sentences)
                mentions = tuple(
                    replace(m, start=m.start + offset, end=m.end + offset, sentence_index=index)
                    for m in sentence.mentions
                )
                sentences.append(
                    replace(
                        sentence,
                        index=index,
                        start=sentence.start + offset,
                        end=sentence.end + offset,
                        mentions=mentions,
                    )
                )
        return sentences
