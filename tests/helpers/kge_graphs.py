"""The tiny music graph of the knowledge-graph embedding tests, and their tiny KGE configuration.

24 artists in 3 genre "scenes" (a few dozen triples), trained for 2 epochs with 8-dimensional vectors, so
each run takes about a second. Used by ``tests/kg/test_embeddings.py`` and ``tests/kg/test_kge_warm_start.py``.
"""

from __future__ import annotations

import numpy as np

from kg.embeddings.config import KgeConfig


def music_graph() -> np.ndarray:
    """24 artists in 3 genre "scenes": genre and label follow the scene, and artists cite scene-mates."""
    triples = []
    for i in range(24):
        scene = i % 3
        artist = f"artist:{i}"
        triples.append((artist, "HAS_GENRE", f"genre:{scene}"))
        triples.append((artist, "SIGNED_TO", f"label:{scene}"))
        triples.append((artist, "SIMILAR_TO", f"artist:{(i + 3) % 24}"))
    return np.asarray(triples, dtype=str)


def tiny_config(**overrides) -> KgeConfig:
    values = dict(model="transe", embedding_dim=8, epochs=2, batch_size=32, negatives_per_positive=2, seed=7)
    values.update(overrides)
    return KgeConfig(**values)
