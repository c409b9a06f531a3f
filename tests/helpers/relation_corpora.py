"""Tiny relation-extraction corpora (CrossRE and FewRel lines) and a tiny training configuration.

The FewRel-style part is a learnable pattern ("<artist> plays the <instrument>", "<artist> is a soprano",
"<song> was composed by <artist>") so that a 2-epoch model does predict relations. Used by the relation
tests and by the ingestion-pipeline tests.
"""

from __future__ import annotations

import json

from ingestion.relations.config import RelationTrainingConfig

CROSSRE = "crossner-crossre-music"
FEWREL = "fewrel-music"


def crossre_line(doc_key: str, sentence: str, ner: list, relations: list) -> str:
    return json.dumps({"doc_key": doc_key, "sentence": sentence.split(), "ner": ner, "relations": relations})


#: "Metallica is a thrash metal band from the United States ." with a gold genre (general-affiliation),
#: a gold origin (physical) and an unmodelled relation (named) between the genre and the country.
METALLICA = crossre_line(
    "music-train-1",
    "Metallica is a thrash metal band from the United States .",
    [[0, 0, "band"], [3, 4, "musicgenre"], [8, 9, "country"]],
    [
        [0, 0, 3, 4, "general-affiliation", "", False, False],
        [0, 0, 8, 9, "physical", "", False, False],
        [3, 4, 8, 9, "named", "", False, False],
    ],
)
#: "Master of Puppets is an album by Metallica ." — CrossRE writes artifact album → band; ours is band → album.
PUPPETS = crossre_line(
    "music-train-2",
    "Master of Puppets is an album by Metallica .",
    [[0, 2, "album"], [7, 7, "band"]],
    [[0, 2, 7, 7, "artifact", "", False, False]],
)
#: Two acts that performed together (role, works_with → ASSOCIATED_WITH, symmetric) and a magazine (no NER label).
DUET = crossre_line(
    "music-train-3",
    "Bjork performed with Radiohead on Rolling Stone .",
    [[0, 0, "musicalartist"], [3, 3, "band"], [5, 6, "magazine"]],
    [[0, 0, 3, 3, "role", "works_with", False, False]],
)
DEV_LINE = crossre_line(
    "music-dev-1",
    "Slayer is a thrash metal band .",
    [[0, 0, "band"], [3, 4, "musicgenre"]],
    [[0, 0, 3, 4, "general-affiliation", "", False, False]],
)

ARTISTS = [
    "Alice Smith",
    "Bob Jones",
    "Carla Diaz",
    "Dan Brown",
    "Eva Green",
    "Frank Lee",
    "Gina Ray",
    "Hugo Kim",
    "Ines Roth",
    "Jack Hall",
    "Kate Moss",
    "Liam Wolf",
    "Mona Park",
    "Nils Berg",
    "Olga Sand",
    "Paul Stone",
]
INSTRUMENTS = ["cello", "guitar", "piano", "violin", "drums", "flute", "harp", "banjo"]
SONGS = ["Blue Sky", "Red River", "Night Train", "Cold Fire", "Long Road", "Dark Star", "Old Town", "Sweet Rain"]


def fewrel_line(tokens: list[str], h: tuple[int, int], t: tuple[int, int], pid: str, relation: str) -> str:
    return json.dumps(
        {
            "token": tokens,
            "h": {"name": " ".join(tokens[h[0] : h[1]]).lower(), "id": "Q1", "pos": list(h)},
            "t": {"name": " ".join(tokens[t[0] : t[1]]).lower(), "id": "Q2", "pos": list(t)},
            "relation": relation,
            "pid": pid,
            "source": "test",
            "cased": True,
        }
    )


def fewrel_lines() -> list[str]:
    lines = []
    for i, artist in enumerate(ARTISTS):
        first, last = artist.split()
        instrument = INSTRUMENTS[i % len(INSTRUMENTS)]
        lines.append(fewrel_line([first, last, "plays", "the", instrument, "."], (0, 2), (4, 5), "P1303", "instrument"))
        lines.append(fewrel_line([first, last, "is", "a", "soprano", "."], (0, 2), (4, 5), "P412", "voice type"))
        song = SONGS[i % len(SONGS)].split()
        tokens = [*song, "was", "composed", "by", first, last, "."]
        lines.append(fewrel_line(tokens, (0, 2), (5, 7), "P86", "composer"))
    return lines


def tiny_config(**overrides) -> RelationTrainingConfig:
    values = dict(
        epochs=2,
        seed=3,
        distant_supervision=False,
        min_word_count=1,
        embedding_dim=16,
        hidden_dim=16,
        mlp_dim=16,
        learning_rate=0.02,
        batch_size=8,
        validation_fraction=0.2,
        fewrel_dev_fraction=0.2,
        word_dropout=0.0,
    )
    values.update(overrides)
    return RelationTrainingConfig(**values)
