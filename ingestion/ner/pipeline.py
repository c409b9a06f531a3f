"""The spaCy pipeline the NER model is: ``tok2vec`` + ``ner`` trained here, plus rule-based sentence splitting.

Why sentence splitting lives in the saved pipeline: ingestion needs sentences with character offsets
(relation extraction works per sentence), and the split must be identical wherever the model is used.
spaCy's ``sentencizer`` splits after sentence-final punctuation; :func:`newline_sentence_breaks` then
starts a sentence after every line break, because the documents we ingest (and course titles) hold one
sentence or title per line, often without a final full stop.

Why no pretrained vectors: the project never downloads models; everything is trained from
``spacy.blank("en")``. The embedding hashes lower-cased forms, prefixes, suffixes and word shapes, so
cased encyclopedic text and lower-cased queries share what they can.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from spacy.language import Language
from spacy.tokens import Doc

from ingestion.labels import NER_LABELS
from ingestion.ner.config import NerTrainingConfig

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


def build_pipeline(config: NerTrainingConfig) -> Language:
    """A blank English pipeline with an untrained ``tok2vec`` and ``ner`` (all :data:`NER_LABELS`) and the splitters."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe(NEWLINE_COMPONENT)
    nlp.add_pipe(
        "tok2vec",
        config={
            "model": {
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
        },
    )
    ner = nlp.add_pipe(
        "ner",
        config={
            "model": {
                "@architectures": "spacy.TransitionBasedParser.v2",
                "state_type": "ner",
                "extra_state_tokens": False,
                "hidden_width": config.hidden_width,
                "maxout_pieces": 2,
                "use_upper": True,
                "nO": None,
                "tok2vec": {"@architectures": "spacy.Tok2VecListener.v1", "width": config.width, "upstream": "*"},
            }
        },
    )
    recognizer = cast("EntityRecognizer", ner)  # spaCy types add_pipe()'s component as a plain callable
    for label in NER_LABELS:
        recognizer.add_label(label)
    return nlp


TRAINABLE_COMPONENTS = ("tok2vec", "ner")
