"""The knowledge graph as a gazetteer *feature* of the NER encoder (not only as weak labels).

Why a feature: weak labels teach names by example, but a name the graph knows and no sentence shows
("Squarepusher", "melodic death metal") stays unknown to the encoder. Here every token also says
whether it begins or continues a graph name of each NER label, and the model learns how far to trust
that (a band called "Yes" is not every "yes").

Two parts, both saved inside the spaCy pipeline so ingestion needs nothing else:

* the ``graph_gazetteer`` component: the graph names by NER label (from
  :func:`ingestion.ner.weak.gazetteer_from_store`, stored in the artifact as JSON), matched
  case-insensitively with a ``PhraseMatcher``; it writes each token's feature indices into
  ``doc.user_data`` (the entities themselves are left to the NER);
* the ``leitmotif.GazetteerTok2Vec.v1`` architecture: wraps a token encoder and adds a linear
  projection of those multi-hot features to its output. The projection starts at zero, so a
  pretrained encoder is unchanged at the start of fine-tuning and the features are learnt in.

A third, optional part (``ontonotes_features``): the frozen OntoNotes NER of the pretrained package
runs first and its entities (PERSON, ORG, GPE, WORK_OF_ART, ...) become more begin/inside features
(:data:`ONTONOTES_LABELS`), then are removed from the ``Doc`` so our NER is not constrained by them.
Why: fine-tuning replaces the pretrained output layer, and with it what OntoNotes taught about
people, places, organisations and works; stacking its decisions keeps them as evidence.
``leitmotif.GazetteerTok2Vec.v2`` reads both kinds of features.

Feature ``2*i`` marks the first token of a name of label ``FEATURE_LABELS[i]``, ``2*i + 1`` a following
token. ``ANY_ARTIST`` holds every Last.FM artist name (solo or group) in query form, for lower-cased
requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Linear, Model, zero_init
from thinc.types import Floats2d

from ingestion.labels import NER_LABELS

GAZETTEER_COMPONENT = "graph_gazetteer"
USER_DATA_KEY = "leitmotif_gazetteer_features"
ANY_ARTIST = "ANY_ARTIST"
FEATURE_LABELS: tuple[str, ...] = (*NER_LABELS, ANY_ARTIST)
N_FEATURES = 2 * len(FEATURE_LABELS)
_NAMES_FILE = "names.json"
ONTONOTES_COMPONENT = "ontonotes_ner"
ONTONOTES_FEATURES_COMPONENT = "ontonotes_features"
ONTONOTES_USER_DATA_KEY = "leitmotif_ontonotes_features"
#: The entity labels of en_core_web_sm's OntoNotes NER, in a fixed order (feature indices).
ONTONOTES_LABELS: tuple[str, ...] = (
    "CARDINAL",
    "DATE",
    "EVENT",
    "FAC",
    "GPE",
    "LANGUAGE",
    "LAW",
    "LOC",
    "MONEY",
    "NORP",
    "ORDINAL",
    "ORG",
    "PERCENT",
    "PERSON",
    "PRODUCT",
    "QUANTITY",
    "TIME",
    "WORK_OF_ART",
)
N_ONTONOTES_FEATURES = 2 * len(ONTONOTES_LABELS)


class GraphGazetteer:
    """Pipeline component: marks graph names in a ``Doc`` as per-token feature indices (see the module doc)."""

    def __init__(self, nlp: Language, name: str = GAZETTEER_COMPONENT):
        self.name = name
        self.vocab = nlp.vocab
        self._make_doc: Callable[[str], Doc] = nlp.make_doc
        self.names: dict[str, tuple[str, ...]] = {}
        self._matcher: Any = None

    def set_names(self, names: Mapping[str, Sequence[str]]) -> None:
        """Replace the names (label -> names); labels outside :data:`FEATURE_LABELS` are refused."""
        unknown = sorted(set(names) - set(FEATURE_LABELS))
        if unknown:
            raise ValueError(f"gazetteer labels {unknown} are not among {list(FEATURE_LABELS)}")
        self.names = {label: tuple(sorted(set(names[label]))) for label in FEATURE_LABELS if names.get(label)}
        self._matcher = None

    @property
    def size(self) -> int:
        return sum(len(names) for names in self.names.values())

    def _built_matcher(self):
        if self._matcher is None:
            from spacy.matcher import PhraseMatcher

            matcher = PhraseMatcher(self.vocab, attr="LOWER")
            for label, names in self.names.items():
                matcher.add(label, [self._make_doc(name) for name in names])
            self._matcher = matcher
        return self._matcher

    def features(self, doc: Doc) -> list[list[int]]:
        """Feature indices of every token of ``doc`` (overlapping names all count)."""
        per_token: list[set[int]] = [set() for _ in doc]
        if self.names:
            strings = self.vocab.strings
            for match_id, start, end in self._built_matcher()(doc):
                index = FEATURE_LABELS.index(strings[match_id])
                per_token[start].add(2 * index)
                for i in range(start + 1, end):
                    per_token[i].add(2 * index + 1)
        return [sorted(found) for found in per_token]

    def __call__(self, doc: Doc) -> Doc:
        doc.user_data[USER_DATA_KEY] = self.features(doc)
        return doc

    def to_bytes(self, *, exclude: Sequence[str] = ()) -> bytes:
        return json.dumps({label: list(names) for label, names in self.names.items()}, ensure_ascii=False).encode()

    def from_bytes(self, data: bytes, *, exclude: Sequence[str] = ()) -> GraphGazetteer:
        self.set_names(json.loads(data.decode()))
        return self

    def to_disk(self, path: str | Path, *, exclude: Sequence[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / _NAMES_FILE).write_bytes(self.to_bytes())

    def from_disk(self, path: str | Path, *, exclude: Sequence[str] = ()) -> GraphGazetteer:
        return self.from_bytes((Path(path) / _NAMES_FILE).read_bytes())


@Language.factory(GAZETTEER_COMPONENT)
def make_graph_gazetteer(nlp: Language, name: str) -> GraphGazetteer:
    return GraphGazetteer(nlp, name)


@Language.component(ONTONOTES_FEATURES_COMPONENT)
def ontonotes_features(doc: Doc) -> Doc:
    """Turn the entities the frozen OntoNotes NER set into features, then unset them (see the module doc)."""
    per_token: list[list[int]] = [[] for _ in doc]
    for ent in doc.ents:
        if ent.label_ in ONTONOTES_LABELS:
            index = ONTONOTES_LABELS.index(ent.label_)
            per_token[ent.start].append(2 * index)
            for i in range(ent.start + 1, ent.end):
                per_token[i].append(2 * index + 1)
    doc.user_data[ONTONOTES_USER_DATA_KEY] = per_token
    doc.set_ents([], default="missing")
    return doc


def gazetteer_feature_names(gazetteer) -> dict[str, tuple[str, ...]]:
    """The names of a :class:`~ingestion.ner.weak.Gazetteer` as :class:`GraphGazetteer` labels."""
    names = {label: tuple(found) for label, found in gazetteer.names.items() if found}
    if gazetteer.query_artists:
        names[ANY_ARTIST] = tuple(gazetteer.query_artists)
    return names


def feature_matrix(docs: Sequence[Doc], *, ontonotes: bool = False) -> numpy.ndarray:
    """Multi-hot ``(total tokens, N_FEATURES [+ N_ONTONOTES_FEATURES])`` float32 matrix of ``docs``.

    Zeros where a feature was not computed for a doc.
    """
    blocks = [(USER_DATA_KEY, 0)] + ([(ONTONOTES_USER_DATA_KEY, N_FEATURES)] if ontonotes else [])
    width = N_FEATURES + (N_ONTONOTES_FEATURES if ontonotes else 0)
    matrix = numpy.zeros((sum(len(doc) for doc in docs), width), dtype="float32")
    row = 0
    for doc in docs:
        for key, offset in blocks:
            stored = doc.user_data.get(key)
            if stored is not None and len(stored) == len(doc):
                for position, indices in enumerate(stored):
                    if indices:
                        matrix[row + position, [offset + i for i in indices]] = 1.0
        row += len(doc)
    return matrix


@registry.architectures("leitmotif.GazetteerTok2Vec.v1")
def gazetteer_tok2vec(tok2vec: Model[list[Doc], list[Floats2d]], width: int) -> Model[list[Doc], list[Floats2d]]:
    """``tok2vec``'s vectors plus a zero-initialised linear projection of the gazetteer features.

    Shapes: ``tok2vec`` maps ``n`` docs to ``n`` arrays ``(len(doc), width)``; the features are
    ``(sum len(doc), N_FEATURES)``; the output has ``tok2vec``'s shapes.
    """
    return _feature_tok2vec(tok2vec, width, ontonotes=False)


@registry.architectures("leitmotif.GazetteerTok2Vec.v2")
def gazetteer_tok2vec_v2(
    tok2vec: Model[list[Doc], list[Floats2d]], width: int, ontonotes: bool
) -> Model[list[Doc], list[Floats2d]]:
    """v1, plus (``ontonotes``) the frozen OntoNotes NER's entities as ``N_ONTONOTES_FEATURES`` more features."""
    return _feature_tok2vec(tok2vec, width, ontonotes=ontonotes)


def _feature_tok2vec(tok2vec: Model, width: int, *, ontonotes: bool) -> Model[list[Doc], list[Floats2d]]:
    n_features = N_FEATURES + (N_ONTONOTES_FEATURES if ontonotes else 0)
    projection = Linear(nO=width, nI=n_features, init_W=zero_init)
    return Model(
        "gazetteer_tok2vec",
        _forward,
        init=_init,
        layers=[tok2vec, projection],
        refs={"encoder": tok2vec, "projection": projection},
        dims={"nO": width},
        attrs={"ontonotes": ontonotes},
    )


def _init(model: Model, X: Any = None, Y: Any = None) -> None:
    model.layers[0].initialize(X=X)
    model.layers[1].initialize()


def _forward(model: Model, docs: list[Doc], is_train: bool):
    encoder, projection = model.layers
    vectors, backprop_encoder = encoder(docs, is_train)
    lengths = [len(doc) for doc in docs]
    matrix = cast(Floats2d, feature_matrix(docs, ontonotes=bool(model.attrs.get("ontonotes"))))
    features = model.ops.asarray2f(matrix)
    projected, backprop_projection = projection(features, is_train)
    outputs = []
    start = 0
    for vector, length in zip(vectors, lengths):
        outputs.append(vector + projected[start : start + length])
        start += length

    def backprop(d_outputs: list[Floats2d]) -> Any:
        if sum(lengths):
            backprop_projection(model.ops.xp.concatenate(d_outputs, axis=0))
        return backprop_encoder(d_outputs)

    return outputs, backprop
