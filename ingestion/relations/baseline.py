"""The baseline: multinomial logistic regression over hand-made pair features (scikit-learn).

Features of an ordered pair, from the same spaCy tokens the BiLSTM reads: the bag of words between the
two mentions, two words before the first and after the second mention, the words of each mention, both
NER labels and their combination, which mention comes first and a bucketed token distance. Classes the
schema forbids for the pair's labels are masked exactly as in the BiLSTM, so the two differ only in
how they read the sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression

from ingestion.relations.evaluation import relation_scores
from ingestion.relations.features import TokenisedSentence, tokenise
from ingestion.relations.records import AnnotatedSentence
from ingestion.relations.schema import RELATION_LABELS, allowed_label_mask

CONTEXT_WINDOW = 2


def pair_features(
    sentence: TokenisedSentence, head: int, tail: int, head_label: str, tail_label: str
) -> dict[str, float]:
    (hs, he), (ts, te) = sentence.mention_tokens[head], sentence.mention_tokens[tail]
    words = sentence.words
    first_end, second_start = (he, ts) if hs <= ts else (te, hs)
    first_start, second_end = min(hs, ts), max(he, te)
    features: dict[str, float] = {
        f"head_label={head_label}": 1.0,
        f"tail_label={tail_label}": 1.0,
        f"labels={head_label}>{tail_label}": 1.0,
        f"head_first={hs <= ts}": 1.0,
        f"distance={_bucket(max(0, second_start - first_end))}": 1.0,
    }
    for word in words[first_end:second_start]:
        features[f"between={word}"] = features.get(f"between={word}", 0.0) + 1.0
    for offset, word in enumerate(reversed(words[max(0, first_start - CONTEXT_WINDOW) : first_start])):
        features[f"before{offset}={word}"] = 1.0
    for offset, word in enumerate(words[second_end : second_end + CONTEXT_WINDOW]):
        features[f"after{offset}={word}"] = 1.0
    for word in words[hs:he]:
        features[f"head_word={word}"] = 1.0
    for word in words[ts:te]:
        features[f"tail_word={word}"] = 1.0
    return features


def _bucket(distance: int) -> str:
    for limit in (0, 1, 2, 3, 5, 8, 12, 20):
        if distance <= limit:
            return str(limit)
    return "more"


def sentence_features(sentences: Sequence[AnnotatedSentence]) -> tuple[list[dict[str, float]], list[str], np.ndarray]:
    """(features, gold labels, allowed-class masks) for every candidate pair, in sentence order."""
    features, labels, masks = [], [], []
    for sentence in sentences:
        examples = sentence.labelled_pairs()
        if not examples:
            continue
        tokenised = tokenise(sentence.text, sentence.mentions)
        for head, tail, label in examples:
            h_label, t_label = sentence.mentions[head].label, sentence.mentions[tail].label
            features.append(pair_features(tokenised, head, tail, h_label, t_label))
            labels.append(label)
            masks.append(allowed_label_mask(h_label, t_label))
    return features, labels, np.asarray(masks, dtype=bool).reshape(len(masks), len(RELATION_LABELS))


@dataclass
class LogisticRegressionBaseline:
    vectorizer: DictVectorizer
    model: LogisticRegression

    @classmethod
    def train(
        cls, sentences: Sequence[AnnotatedSentence], *, seed: int, c: float = 1.0, max_iter: int = 2000
    ) -> LogisticRegressionBaseline:
        features, labels, _ = sentence_features(sentences)
        vectorizer = DictVectorizer(sparse=True)
        x = vectorizer.fit_transform(features)
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=max_iter, random_state=seed)
        model.fit(x, labels)
        return cls(vectorizer, model)

    def predict(self, sentences: Sequence[AnnotatedSentence]) -> tuple[list[str], list[str]]:
        """(gold, predicted) labels of every candidate pair of ``sentences``."""
        features, gold, masks = sentence_features(sentences)
        if not features:
            return [], []
        probabilities = self.model.predict_proba(self.vectorizer.transform(features))
        full = np.zeros((len(features), len(RELATION_LABELS)))
        for column, label in enumerate(self.model.classes_):
            full[:, RELATION_LABELS.index(label)] = probabilities[:, column]
        full[~masks] = -1.0  # forbidden for these NER labels; NONE is always allowed
        return gold, [RELATION_LABELS[i] for i in full.argmax(axis=1)]

    def evaluate(self, sentences: Sequence[AnnotatedSentence]) -> dict[str, Any]:
        gold, predicted = self.predict(sentences)
        return relation_scores(gold, predicted)
