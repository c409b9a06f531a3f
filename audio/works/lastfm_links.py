"""Composers linked to their Last.FM artists: ``Person -SAME_AS-> Artist``, from a reviewed table.

Why a table and not name matching: :data:`~.tables.LASTFM_ARTIST_IDS` was checked by hand against the
HetRec ``artists.dat`` (a fuzzy match would link Bach to the rock singer "Sebastian Bach"). Why the
link is written whenever both ends exist, and nothing otherwise: the works and the Last.FM artists are
loaded by different commands in either order. Each ``load_works`` run (and ``load_works
--link-composers-only``, which renders nothing) writes the links whose two entities are in the graph
now; a composer or artist that is missing is reported, not an error. The relation's source is
:data:`LASTFM_LINK_SOURCE`, so a re-run removes only this table's own links that no longer hold (a
curator's ``SAME_AS`` stays).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.text import slugify

from audio.works.tables import COMPOSERS, LASTFM_ARTIST_IDS
from kg.schema import ARTIST_TYPE, PERSON_TYPE, SAME_AS, artist_entity_id, person_entity_id
from kg.services import GraphSyncReport, OwnedRelations, graph_sync
from kg.stores.base import KnowledgeGraphStore, RelationRecord

LASTFM_LINK_SOURCE = "leitmotif:composer-lastfm-table"
#: The links this module owns: ``SAME_AS`` with its own source (never a curator's or another loader's).
LASTFM_LINK_RELATIONS = OwnedRelations(types=(SAME_AS,), sources=(LASTFM_LINK_SOURCE,))


@dataclass(frozen=True)
class ComposerLinksReport:
    """What one sync did: the links wanted now, and the table rows that could not be linked yet."""

    sync: GraphSyncReport
    linked: tuple[str, ...]
    #: Composer keys whose Person entity is not in the graph (no work of theirs loaded yet).
    missing_composers: tuple[str, ...]
    #: Composer keys whose Last.FM artist entity is not in the graph (Last.FM not loaded, or not that artist).
    missing_artists: tuple[str, ...]

    @property
    def written(self) -> int:
        return self.sync.written


def composer_person_id(key: str) -> str:
    """The Person entity id the works loader gives the composer ``key`` of :data:`~.tables.COMPOSERS`."""
    return person_entity_id(slugify(COMPOSERS[key].name))


def composer_link_records(store: KnowledgeGraphStore) -> tuple[list[RelationRecord], list[str], list[str]]:
    """``(relations, composers missing, artists missing)``: a link for every table row whose two ends exist.

    An end exists only with the expected type (a Person, an Artist), so a stray entity with the same id
    is never linked.
    """
    pairs = {
        key: (composer_person_id(key), artist_entity_id(lastfm_id)) for key, lastfm_id in LASTFM_ARTIST_IDS.items()
    }
    found = store.get_entities([entity_id for pair in pairs.values() for entity_id in pair])
    relations: list[RelationRecord] = []
    missing_composers: list[str] = []
    missing_artists: list[str] = []
    for key, (person_id, artist_id) in sorted(pairs.items()):
        person, artist = found.get(person_id), found.get(artist_id)
        if person is None or person.type != PERSON_TYPE:
            missing_composers.append(key)
            continue
        if artist is None or artist.type != ARTIST_TYPE:
            missing_artists.append(key)
            continue
        relations.append(
            RelationRecord(
                head=person_id,
                type=SAME_AS,
                tail=artist_id,
                source=LASTFM_LINK_SOURCE,
                confidence=1.0,
                properties={"lastfm_artist_id": LASTFM_ARTIST_IDS[key], "match": "reviewed table"},
            )
        )
    return relations, missing_composers, missing_artists


def composer_links_sync(*, store: KnowledgeGraphStore) -> ComposerLinksReport:
    """Write the composer ↔ Last.FM artist links whose ends exist; remove this table's links that no longer hold.

    Idempotent: a second run with the same graph writes and removes nothing. Safe in either load order:
    without the artists (or the composers) it writes nothing and raises nothing.
    """
    relations, missing_composers, missing_artists = composer_link_records(store)
    present = [composer_person_id(key) for key in sorted(LASTFM_ARTIST_IDS) if key not in missing_composers]
    sync = graph_sync(
        store=store,
        relations=relations,
        owned=LASTFM_LINK_RELATIONS,
        around=present,
        description="Composer links",
    )
    return ComposerLinksReport(
        sync=sync,
        linked=tuple(relation.head for relation in relations),
        missing_composers=tuple(missing_composers),
        missing_artists=tuple(missing_artists),
    )
