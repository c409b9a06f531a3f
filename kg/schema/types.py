"""The entity and relation type names of the graph, one constant each.

Why here and not in the loaders: a type name is a contract between the loader that writes it and every
reader (selectors, the curriculum, the recommender, the audio encoder). Owned by :mod:`kg`, a reader
depends on the graph's vocabulary instead of on the loader that happens to write it, and a rename
cannot leave a reader behind.
"""

from __future__ import annotations

# --- entity types ---------------------------------------------------------------------------------

#: A Last.FM artist (the catalogue's items). Freebase musicians are ``MusicalArtist`` (see :mod:`.freebase`).
ARTIST_TYPE = "Artist"
#: A Last.FM tag (free text given by listeners).
TAG_TYPE = "Tag"
#: A Udemy course.
COURSE_TYPE = "Course"
#: A course level (the catalogue's level choices).
LEVEL_TYPE = "Level"
INSTRUMENT_TYPE = "Instrument"
#: A curriculum concept (the course loader's coarse ones and the curriculum file's).
CONCEPT_TYPE = "Concept"
#: A work of the music21 corpus, with rendered audio.
WORK_TYPE = "Work"
PERSON_TYPE = "Person"
ERA_TYPE = "Era"
FORM_TYPE = "Form"
KEY_TYPE = "Key"
METRE_TYPE = "Metre"
COLLECTION_TYPE = "Collection"

# --- relation types -------------------------------------------------------------------------------

#: ``Artist -HAS_TAG-> Tag`` (properties: how many listeners gave the tag).
HAS_TAG = "HAS_TAG"

#: ``Course -HAS_LEVEL-> Level``.
HAS_LEVEL = "HAS_LEVEL"
#: ``Course -TEACHES_INSTRUMENT-> Instrument``.
TEACHES_INSTRUMENT = "TEACHES_INSTRUMENT"
#: ``Course -COVERS_TAG-> Tag`` (a Last.FM tag that names a curated genre).
COVERS_TAG = "COVERS_TAG"
#: ``Course -TEACHES_CONCEPT-> Concept``.
TEACHES_CONCEPT = "TEACHES_CONCEPT"
#: ``Tag -ABOUT_INSTRUMENT-> Instrument`` (an instrument-named tag such as ``acoustic guitar``).
ABOUT_INSTRUMENT = "ABOUT_INSTRUMENT"

#: ``Person -COMPOSED-> Work``.
COMPOSED = "COMPOSED"
#: ``Work -IN_ERA-> Era``.
IN_ERA = "IN_ERA"
#: ``Work -HAS_FORM-> Form``.
HAS_FORM = "HAS_FORM"
#: ``Work -IN_KEY-> Key``.
IN_KEY = "IN_KEY"
#: ``Work -IN_METRE-> Metre``.
IN_METRE = "IN_METRE"
#: ``Work -SCORED_FOR-> Instrument``.
SCORED_FOR = "SCORED_FOR"
#: ``Work -IN_COLLECTION-> Collection``.
IN_COLLECTION = "IN_COLLECTION"
#: ``Work -EXERCISES_CONCEPT-> Concept``: playing the work exercises the concept, as measured on its score
#: (properties: ``how`` — the detector's sentence, e.g. "arpeggio figures: 34% of notes" —, ``detector``
#: and the measured numbers; written by the works loader, :mod:`audio.works.concepts`).
EXERCISES_CONCEPT = "EXERCISES_CONCEPT"
#: ``Person -LIVED_IN_ERA-> Era``.
LIVED_IN_ERA = "LIVED_IN_ERA"
#: ``Person -SAME_AS-> Artist``: the composer is the person whose music Last.FM lists under that artist
#: (properties: ``lastfm_artist_id``; the works loader writes it from a reviewed table, never by name guessing).
SAME_AS = "SAME_AS"

#: ``Concept -PREREQUISITE_OF-> Concept`` (prerequisite → dependent).
PREREQUISITE_OF = "PREREQUISITE_OF"
#: ``Concept -PART_OF-> Concept`` (a narrower concept → its umbrella).
PART_OF = "PART_OF"
#: ``Concept -ASSOCIATED_TAG-> Tag`` (music in which the concept is prominent).
ASSOCIATED_TAG = "ASSOCIATED_TAG"
#: ``Concept -FOR_INSTRUMENT-> Instrument`` (no such edge = every instrument).
FOR_INSTRUMENT = "FOR_INSTRUMENT"
