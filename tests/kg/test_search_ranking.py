"""``kg.stores.search_match_rank``: the finer match rank the learner pages sort search results by.

The stores rank exact > prefix > word start > substring (``test_store_contract.py``); a person typing a
surname means the person, so the product puts "the query is whole words of the name" right after exact.
"""

from __future__ import annotations

import pytest

from kg.stores import search_match_rank
from kg.stores.base import (
    MATCH_EXACT,
    MATCH_INSIDE_WORD,
    MATCH_PREFIX,
    MATCH_WHOLE_WORDS,
    MATCH_WORD_START,
)


@pytest.mark.parametrize(
    "query, name, rank",
    [
        ("bach", "Bach", MATCH_EXACT),
        ("BACH", "bach", MATCH_EXACT),
        ("bach", "Johann Sebastian Bach", MATCH_WHOLE_WORDS),
        ("sebastian bach", "Johann Sebastian Bach", MATCH_WHOLE_WORDS),
        ("bach", "J..S. Bach", MATCH_WHOLE_WORDS),
        ("mozart", "Mozart Season", MATCH_WHOLE_WORDS),
        ("chopin", "Frédéric Chopin", MATCH_WHOLE_WORDS),
        ("frederic chopin", "Frédéric Chopin", MATCH_EXACT),  # accents and case folded away
        ("horowitz", "Vladimir Horowitz", MATCH_WHOLE_WORDS),
        ("bach", "Bachman-Turner Overdrive", MATCH_PREFIX),
        ("beet", "Ludwig van Beethoven", MATCH_WORD_START),
        ("bach", "Burt Bacharach", MATCH_WORD_START),
        ("bach", "Jacques Offenbach", MATCH_INSIDE_WORD),
        ("bach", "Radiohead", None),
        ("   ", "Bach", None),
    ],
)
def test_rank_of_one_name(query, name, rank):
    assert search_match_rank(query, name) == rank


def test_the_best_key_counts_and_a_later_whole_word_beats_an_earlier_word_start():
    assert search_match_rank("szopen", "Frédéric Chopin", ["Szopen"]) == MATCH_EXACT
    assert search_match_rank("bach", "Bachelors of Bach") == MATCH_WHOLE_WORDS  # "Bachelors" first, then "Bach"
    assert search_match_rank("ach", "Bach Bachman") == MATCH_INSIDE_WORD


def test_sorting_by_rank_then_popularity_puts_the_composers_first():
    listeners = {
        "Johann Sebastian Bach": 31,
        "Sebastian Bach": 4,
        "Bachman-Turner Overdrive": 2,
        "Jacques Offenbach": 9,
        "Ludwig van Beethoven": 30,
        "Camper Van Beethoven": 1,
    }

    def ranked(query: str) -> list[str]:
        found = [(search_match_rank(query, n), -p, n) for n, p in listeners.items()]
        return [n for r, _, n in sorted(f for f in found if f[0] is not None)]

    assert ranked("bach") == [
        "Johann Sebastian Bach",
        "Sebastian Bach",
        "Bachman-Turner Overdrive",
        "Jacques Offenbach",
    ]
    assert ranked("beethoven") == ["Ludwig van Beethoven", "Camper Van Beethoven"]
