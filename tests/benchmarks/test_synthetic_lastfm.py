"""The growth-curve data generator (benchmarks/synthetic_lastfm.py) at tiny scales: seeded, scaled, consistent, realistic."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.synthetic_lastfm import REAL_COUNTS, fit_lastfm, generate, write_lastfm_dir


@pytest.fixture(scope="module")
def fit():
    return fit_lastfm()


@pytest.fixture(scope="module")
def small():
    return generate(0.1, seed=3)


@pytest.fixture(scope="module")
def double():
    return generate(2, seed=5)


def _top_share(popularity: np.ndarray, share: float = 0.1) -> float:
    """Share of all listens held by the most popular ``share`` of artists."""
    ordered = np.sort(popularity)[::-1]
    return float(ordered[: max(1, int(len(ordered) * share))].sum() / ordered.sum())


def test_same_seed_same_data_other_seed_other_data(small):
    again = generate(0.1, seed=3)
    for name in ("listen_users", "listen_artists", "listen_plays", "kg_heads", "kg_preds", "kg_tails", "tagging_tags"):
        assert np.array_equal(getattr(small, name), getattr(again, name)), name
    assert small.artist_names == again.artist_names and small.tag_names == again.tag_names
    other = generate(0.1, seed=4)
    assert not np.array_equal(small.listen_artists, other.listen_artists)


@pytest.mark.parametrize("scale", [0.1, 2])
def test_counts_scale_as_asked(scale, small, double):
    data = small if scale == 0.1 else double
    counts = data.counts()
    assert counts["users"] == round(REAL_COUNTS["users"] * scale)
    assert counts["artists"] == round(REAL_COUNTS["artists"] * scale)
    assert counts["listens"] == round(REAL_COUNTS["listens"] * scale)
    # a fractional scale keeps a random subset of artists with their triples: artists' out-degrees are
    # skewed, so the graph's size varies more than the artist count
    assert counts["kg_triples"] == pytest.approx(REAL_COUNTS["kg_triples"] * scale, rel=0.25)
    assert counts["kg_entities"] == pytest.approx(REAL_COUNTS["kg_entities"] * scale, rel=0.25)
    if scale == 2:  # whole copies: the predicate set and (up to rewiring duplicates) the graph size are exact
        assert counts["kg_predicates"] == 60
        assert counts["kg_triples"] == pytest.approx(2 * REAL_COUNTS["kg_triples"], rel=0.01)
        assert counts["kg_entities"] == pytest.approx(2 * REAL_COUNTS["kg_entities"], rel=0.01)


def test_ids_are_consistent(double):
    artists = set(double.artist_ids.tolist())
    assert set(double.listen_artists.tolist()) <= artists
    assert set(double.tagging_artists.tolist()) <= artists
    assert set(double.tagging_tags.tolist()) <= set(double.tag_ids.tolist())
    users = set(double.listen_users.tolist())
    assert set(double.tagging_users.tolist()) <= users
    assert set(double.friend_pairs.ravel().tolist()) <= users
    pairs = set(zip(double.listen_users.tolist(), double.listen_artists.tolist()))
    assert len(pairs) == len(double.listen_users), "a listener lists an artist once"
    entities = set(double.artist_entity.tolist()) | set(double.kg_tails.tolist())
    assert set(double.kg_heads.tolist()) <= set(double.artist_entity.tolist()), "every head is an artist, as in KGCN"
    assert entities == set(range(len(entities))), "entity numbers are 0..n-1 with the artists first"
    triples = np.stack([double.kg_heads, double.kg_preds, double.kg_tails], axis=1)
    assert len(np.unique(triples, axis=0)) == len(triples)


def test_the_project_loader_reads_the_files(small, tmp_path):
    from ingestion.loaders.lastfm import kgcn_graph_records, kgcn_subset_select, lastfm_dataset_read

    write_lastfm_dir(small, tmp_path)
    subset = kgcn_subset_select(dataset=lastfm_dataset_read(data_dir=tmp_path))
    counts = small.counts()
    assert len(subset.artists) == counts["artists"]
    assert len(subset.user_ids) == counts["users"]
    assert len(subset.listens) == counts["listens"]
    assert len(subset.kg_triples) == counts["kg_triples"]
    assert len(subset.tag_assignments) == counts["tag_assignments"]
    records = kgcn_graph_records(subset=subset)
    ids = {e.id for e in records.entities}
    assert all(r.head in ids and r.tail in ids for r in records.relations)


def test_distributions_follow_the_real_data(fit, double):
    popularity = np.bincount(double.listen_artists, minlength=len(double.artist_ids) + 1)[1:]
    real_top = _top_share(fit.item_popularity)
    assert _top_share(popularity) == pytest.approx(real_top, abs=0.1), "popularity skew (top-10 % share)"
    assert _top_share(popularity) > 0.3, "a long tail, not uniform"
    degrees = np.bincount(double.listen_users)[1:]
    assert np.median(degrees) == pytest.approx(np.median(fit.user_degrees), abs=2)
    assert degrees.max() <= fit.user_degrees.max() + 3  # ±1 adjustments that hit the exact total
    real_mix = np.bincount(fit.kg_preds, minlength=len(fit.predicates)) / len(fit.kg_preds)
    mix = np.bincount(double.kg_preds, minlength=len(fit.predicates)) / len(double.kg_preds)
    assert 0.5 * np.abs(real_mix - mix).sum() < 0.02, "predicate mix (total variation distance)"
    real_plays = np.median(fit.play_counts)
    assert np.median(double.listen_plays) == pytest.approx(real_plays, rel=0.2)
