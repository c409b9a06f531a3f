"""The NER label set shared by the NER model, entity linking and relation extraction.

Why one coarse, music-shaped set instead of the corpora's own labels: CrossNER has 13 fine types and
MusicRecoNER two, but the graph needs to know only what kind of entity a mention can be linked to. Each
corpus label is mapped onto this set by :data:`CORPUS_LABEL_MAP` (data, not branches), and each NER label
says which graph entity types a mention of it may be linked to (:data:`LINKABLE_ENTITY_TYPES`), which is
also the type a new entity proposed from such a mention gets (:data:`NEW_ENTITY_TYPE`).
"""

from __future__ import annotations

from collections.abc import Mapping

#: The labels the trained NER pipeline predicts.
NER_LABELS: tuple[str, ...] = (
    "ARTIST",  # solo musical artists (musicians, singers, composers as performers)
    "BAND",  # groups, orchestras, ensembles
    "PERSON",  # people who are not (primarily) credited as musical artists
    "WORK",  # songs, albums, compositions, works of art
    "INSTRUMENT",
    "GENRE",
    "ORG",  # organisations, record labels
    "PLACE",  # countries, cities, venues, regions
    "EVENT",
    "AWARD",
    "CONCEPT",  # music-theory concepts and playing techniques
    "MISC",
)

#: (corpus, corpus label) -> NER label; corpus labels missing here are not used for training.
CORPUS_LABEL_MAP: Mapping[tuple[str, str], str] = {
    ("crossner", "musicalartist"): "ARTIST",
    ("crossner", "band"): "BAND",
    ("crossner", "person"): "PERSON",
    ("crossner", "song"): "WORK",
    ("crossner", "album"): "WORK",
    ("crossner", "musicalinstrument"): "INSTRUMENT",
    ("crossner", "musicgenre"): "GENRE",
    ("crossner", "organisation"): "ORG",
    ("crossner", "country"): "PLACE",
    ("crossner", "location"): "PLACE",
    ("crossner", "event"): "EVENT",
    ("crossner", "award"): "AWARD",
    ("crossner", "misc"): "MISC",
    ("musicreconer", "Artist"): "ARTIST",
    ("musicreconer", "WoA"): "WORK",
}

#: NER label -> graph entity types a mention may be linked to, best first.
#: Genres link to Last.FM tags too: the KGCN genre entities carry no names, the tags do ("jazz").
LINKABLE_ENTITY_TYPES: Mapping[str, tuple[str, ...]] = {
    "ARTIST": ("Artist", "MusicalArtist", "Person"),
    "BAND": ("Artist", "Band", "MusicalArtist", "Organization"),
    "PERSON": ("Person", "Artist", "MusicalArtist"),
    "WORK": ("Work", "Track", "Album"),
    "INSTRUMENT": ("Instrument",),
    "GENRE": ("Genre", "Tag"),
    "ORG": ("Organization",),
    "PLACE": ("Place",),
    "EVENT": ("Event",),
    "AWARD": ("Award",),
    "CONCEPT": ("Concept",),
    "MISC": ("Entity",),
}

#: NER label -> entity type of a new entity proposed from an unlinked mention. Not ``Artist``: that type
#: means an artist of the listening catalogue, which an extracted name is not (yet).
NEW_ENTITY_TYPE: Mapping[str, str] = {
    **{label: types[0] for label, types in LINKABLE_ENTITY_TYPES.items()},
    "ARTIST": "MusicalArtist",
    # The graph has no "Band" type: Freebase groups are MusicalArtist too (the review queue offers only graph types).
    "BAND": "MusicalArtist",
}
