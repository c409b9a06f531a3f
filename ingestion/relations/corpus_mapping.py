"""How corpus relations become our relation types, as data tables.

Three sources speak three vocabularies:

* CrossRE's 17 coarse labels (``part-of``, ``artifact``...) are too coarse on their own: ``role`` between an
  artist and a band is membership when the annotators' explanation says ``in_band`` and a collaboration
  or an influence otherwise. So a CrossRE rule matches the coarse label, the CrossNER types of both
  arguments and, where it matters, the explanation field (``Exp``) that CrossRE ships with each relation.
  Rules are tried in order; the first match wins. A rule matches the corpus pair in either direction
  and says which side is our head, which is how "CrossRE may write it either way" is normalised.
* FewRel's Wikidata properties name a direction that is sometimes the reverse of ours (P86 composer has
  the work as head) and carry no entity types, so each property gets the NER labels its arguments
  usually have, overridden by what CrossNER's annotations say about the same name.
* Graph triples used for distant supervision have graph relation types (``HAS_TAG``, ``ORIGIN``).

Why gold relations without a rule are dropped rather than made NONE: "Dead Kennedys influenced Green
Day" is annotated as a relation we do not model; calling it "no relation" would teach the classifier
that the sentence says nothing about the pair, which is false.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ingestion.relations.schema import RELATIONS_BY_NAME


@dataclass(frozen=True)
class CrossReRule:
    """``label`` between a ``head_types`` and a ``tail_types`` argument (CrossNER types, our direction) → ``relation``.

    ``explanations``: the rule only applies when CrossRE's explanation is one of these (``None``: any).
    ``excluded_explanations``: the rule never applies for these (``hit_in`` is charting, not origin).
    """

    label: str
    head_types: frozenset[str]
    tail_types: frozenset[str]
    relation: str
    explanations: frozenset[str] | None = None
    excluded_explanations: frozenset[str] = frozenset()
    note: str = ""

    def matches(self, label: str, head_type: str, tail_type: str, explanation: str) -> bool:
        if label != self.label or head_type not in self.head_types or tail_type not in self.tail_types:
            return False
        if explanation in self.excluded_explanations:
            return False
        return self.explanations is None or explanation in self.explanations


def _types(*names: str) -> frozenset[str]:
    return frozenset(names)


_ACTS = _types("musicalartist", "band")
_PEOPLE = _types("musicalartist", "person")
_GENRE_HOLDERS = _types("musicalartist", "band", "song", "album")
_NOT_ORIGIN = _types("hit_in", "released_in", "tour_in", "performed_at", "performs_in")
_COLLABORATION = _types(
    "collaborator", "collaboration", "works_with", "performs_with", "influences", "influenced_by", "covers"
)

#: The CrossRE table (first match wins). Counts in the notes are over re_train + re_test_part_shared + re_dev.
CROSSRE_RULES: tuple[CrossReRule, ...] = (
    CrossReRule(
        "part-of", _PEOPLE, _types("band"), "MEMBER_OF", note="'Nicky Moore' part-of 'Samson' (104 artist/band)"
    ),
    CrossReRule(
        "role",
        _PEOPLE,
        _types("band", "organisation"),
        "MEMBER_OF",
        explanations=_types("in_band", "band_member"),
        note="role marked in_band: membership (77); other roles are collaborations, influence or management",
    ),
    CrossReRule(
        "artifact",
        _ACTS,
        _types("song", "album"),
        "PERFORMED",
        note="'Doggystyle' artifact 'Snoop Dogg' (album/song → act, reversed)",
    ),
    CrossReRule(
        "role",
        _ACTS,
        _types("song", "album"),
        "PERFORMED",
        explanations=_types("on_album", "guest_artist", "makes_cover", "covers", "contributor", "performs"),
        note="role on a work with a performing explanation; an unexplained role may be production",
    ),
    CrossReRule(
        "general-affiliation",
        _GENRE_HOLDERS,
        _types("musicgenre"),
        "HAS_GENRE",
        note="'Slayer' general-affiliation 'thrash metal'",
    ),
    CrossReRule("type-of", _GENRE_HOLDERS, _types("musicgenre"), "HAS_GENRE"),
    CrossReRule("usage", _GENRE_HOLDERS, _types("musicgenre"), "HAS_GENRE", note="'Steve Bach' usage 'Jazz'"),
    CrossReRule("usage", _PEOPLE, _types("musicalinstrument"), "INSTRUMENTS_PLAYED", note="'Larner' usage 'koto'"),
    CrossReRule("general-affiliation", _PEOPLE, _types("musicalinstrument"), "INSTRUMENTS_PLAYED"),
    CrossReRule(
        "physical",
        _ACTS,
        _types("country"),
        "ORIGIN",
        excluded_explanations=_NOT_ORIGIN,
        note="'Beherit' physical 'Finland'; touring/charting explanations excluded. physical with a 'location' "
        "is left out: it is mostly a venue (Grand Ole Opry, La Scala), not where the act comes from",
    ),
    CrossReRule("origin", _ACTS, _types("country", "location"), "ORIGIN"),
    CrossReRule(
        "general-affiliation",
        _ACTS,
        _types("country", "location"),
        "ORIGIN",
        excluded_explanations=_NOT_ORIGIN,
        note="mostly marked from-country",
    ),
    CrossReRule(
        "win-defeat",
        _types("musicalartist", "band", "song", "album", "person"),
        _types("award"),
        "WON_AWARD",
        excluded_explanations=_types("nominated_for", "nominated"),
    ),
    CrossReRule("social", _ACTS, _ACTS, "ASSOCIATED_WITH"),
    CrossReRule("related-to", _ACTS, _ACTS, "ASSOCIATED_WITH", note="mostly influenced_by"),
    CrossReRule("role", _ACTS, _ACTS, "ASSOCIATED_WITH", explanations=_COLLABORATION),
    CrossReRule(
        "role",
        _types("musicalartist"),
        _types("musicalartist"),
        "ASSOCIATED_WITH",
        explanations=_types(""),
        note="unexplained role between two artists: appearing or working together",
    ),
    CrossReRule(
        "role",
        _types("band"),
        _types("band"),
        "ASSOCIATED_WITH",
        explanations=_types(""),
        note="unexplained role between two bands: influence, covers, touring together. An unexplained role "
        "between an artist and a band is left out: it is membership as often as not",
    ),
)


@dataclass(frozen=True)
class MappedCorpusRelation:
    """A corpus relation in our terms: ``reversed`` says the corpus head became our tail."""

    relation: str
    reversed: bool
    rule_index: int


def map_crossre_relation(label: str, head_type: str, tail_type: str, explanation: str) -> MappedCorpusRelation | None:
    """The first rule matching the corpus relation in either direction, or ``None`` (the relation is dropped)."""
    explanation = (explanation or "").strip()
    for index, rule in enumerate(CROSSRE_RULES):
        if rule.matches(label, head_type, tail_type, explanation):
            return MappedCorpusRelation(rule.relation, reversed=False, rule_index=index)
        if rule.matches(label, tail_type, head_type, explanation):
            return MappedCorpusRelation(rule.relation, reversed=True, rule_index=index)
    return None


@dataclass(frozen=True)
class FewRelMapping:
    """A Wikidata property → our relation; ``reverse``: FewRel's ``t`` is our head (P86 h=work, t=composer).

    ``head_label``/``tail_label`` are the NER labels our head/tail get when CrossNER does not know the name.
    """

    pid: str
    relation: str
    reverse: bool
    head_label: str
    tail_label: str


FEWREL_MAPPINGS: Mapping[str, FewRelMapping] = {
    m.pid: m
    for m in (
        FewRelMapping("P86", "COMPOSED", reverse=True, head_label="ARTIST", tail_label="WORK"),
        FewRelMapping("P175", "PERFORMED", reverse=True, head_label="ARTIST", tail_label="WORK"),
        FewRelMapping("P136", "HAS_GENRE", reverse=False, head_label="BAND", tail_label="GENRE"),
        FewRelMapping("P1303", "INSTRUMENTS_PLAYED", reverse=False, head_label="ARTIST", tail_label="INSTRUMENT"),
        FewRelMapping("P463", "MEMBER_OF", reverse=False, head_label="ARTIST", tail_label="BAND"),
        FewRelMapping("P264", "SIGNED_TO", reverse=False, head_label="ARTIST", tail_label="ORG"),
        FewRelMapping("P412", "VOICE_TYPE", reverse=False, head_label="ARTIST", tail_label="MISC"),
    )
}

#: Words that make a FewRel "member of" tail an organisation rather than a band ("Royal Society",
#: "United Football League"). FewRel's P463 is Wikidata's generic membership, not only bands.
ORGANISATION_NAME_PATTERN = re.compile(
    r"\b(society|association|academy|league|union|party|council|committee|federation|institute|club|order|college|"
    r"university|foundation|guild|conference|organi[sz]ation|assembly|team|corps|fraternity|sorority|brotherhood|"
    r"alliance|congress|parliament|senate|church|movement|group of|board)\b",
    re.IGNORECASE,
)


def fewrel_tail_label(mapping: FewRelMapping, tail_text: str) -> str:
    """The default tail label, except that a membership in an organisation-sounding name is ORG."""
    if mapping.relation == "MEMBER_OF" and ORGANISATION_NAME_PATTERN.search(tail_text):
        return "ORG"
    return mapping.tail_label


#: Graph relation type → our relation, for distant supervision. Every schema relation maps to itself,
#: so triples accepted from earlier ingestion runs count too. HAS_TAG only labels a pair whose tail
#: mention is a GENRE (the label check in distant supervision), since most Last.FM tags are not genres.
GRAPH_RELATION_MAP: Mapping[str, str] = {
    **{name: name for name in RELATIONS_BY_NAME},
    "HAS_TAG": "HAS_GENRE",
    "ARTIST_GENRE": "HAS_GENRE",
    "ALBUM_GENRE": "HAS_GENRE",
}
