"""The requests protocol: do the music and courses an answer returns satisfy what the request asked?

Why measured on answers, not parses: a request can be read perfectly and still be answered with music
that ignores it ("calm piano music" → progressive rock). Each request is parsed, answered for a new
learner with no history (the learner the request box matters most to), and every returned item is
checked against every *understood* constraint by graph facts (:mod:`.constraints`: an artist has the
genre or mood tag, a tag about the instrument, one of the named artist's top tags; a course teaches the
instrument or concept, has the level, covers the genre). Reported per constraint kind, as the share of
(item, constraint) pairs satisfied and the share of items satisfying all their list's constraints.

The requests: :func:`generate_requests` fills templates (artist / genre / mood / instrument / level /
concept combinations, with distractor words the parser must ignore) from the graph with one seed, and
:func:`split_requests` halves them with that seed: thresholds are chosen on the ``validation`` half, the
``test`` half is reported. The hand-labelled requests (``tests/recommender/data/nl_requests*.jsonl``) are
scored the same way.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count

from catalog.models import Listener
from catalog.selectors import tag_rule_artist_entity_ids, tag_rule_artists
from kg.schema.types import ABOUT_INSTRUMENT, HAS_LEVEL, HAS_TAG, TEACHES_CONCEPT, TEACHES_INSTRUMENT
from recommender.understanding.constraints import (
    NOISE_TAGS,
    Constraint,
    mood_tag_ids,
    request_constraints,
    tag_nodes_by_name,
)
from recommender.understanding.parse import RequestParser, load_lexicon

#: Requests generated (at least 300 are asked for).
DEFAULT_REQUESTS = 400
#: Answer length scored.
ANSWER_K = 10
#: Genre tags drawn from the most used ones; artists from the most listened.
GENRE_POOL = 60
ARTIST_POOL = 200

#: (template, slots). Slots: {genre} {artist} {mood} {instrument} {player} {level} {concept}.
TEMPLATES: tuple[str, ...] = (
    "{mood} {genre} music",
    "something like {artist}",
    "{genre} songs for a {level} {player}",
    "{mood} {instrument} music to practise {concept}",
    "bands like {artist} but more {mood}",
    "{genre} with lots of {instrument}",
    "{mood} music like {artist}",
    "{genre} {instrument} lessons for {level}s",
    "teach me {concept} on the {instrument}",
    "{level} {instrument} course about {concept}",
    "{instrument} tutorials for an {level} player",
    "{genre} artists similar to {artist}",
    "{mood} {genre} for a {player}",
    "{level} {genre} {instrument} lessons",
)
#: Words around a request that carry no constraint (the parser must not read them as one).
DISTRACTORS_BEFORE = ("", "", "hey, ", "please ", "I'd love ", "could you find ", "honestly, ", "ok so ")
DISTRACTORS_AFTER = ("", "", " please", " for my weekend", " thanks!", " on a rainy day", " for the commute", " asap")
#: Lexicon level words used in generated requests (one per level, so a request names one level).
LEVEL_WORDS = {"Beginner": "beginner", "Intermediate": "intermediate", "Expert": "advanced"}
#: Parser level -> the course level entity's id suffix.
LEVEL_ENTITY_WORDS = {"Beginner": "beginner", "Intermediate": "intermediate", "Expert": "expert"}
#: Words that make a template ask for courses (it is then filled around a course).
COURSE_CUES = ("lessons", "course", "tutorials", "teach me")


@dataclass(frozen=True)
class GeneratedRequest:
    text: str
    template: str
    #: What was put into the request: kind -> entity id or level/mood name.
    asked: dict[str, str] = field(default_factory=dict)


@dataclass
class Pools:
    """What requests are filled from: surface words with their values, and the graph facts of the anchors."""

    words: dict[str, list[tuple[str, str]]]  # slot -> (words, value)
    artist_tags: dict[str, set[str]]  # artist entity -> its tag entities
    course_facts: dict[str, dict[str, set[str]]]  # course entity -> {"instrument"|"level"|"concept": values}
    mood_tags: dict[str, frozenset[str]]  # mood -> its tag entities
    instrument_tags: dict[str, set[str]]  # instrument entity -> tags about it
    instrument_concepts: dict[str, set[str]]  # instrument entity -> concepts its courses teach


def request_pools(snapshot: Any) -> Pools:
    """Words and facts drawn from the graph: genre tags, artists, instruments, concepts, moods, levels."""
    lexicon = load_lexicon()
    types = snapshot.types
    relation = snapshot.relation_index.get
    artist_tags: dict[str, set[str]] = defaultdict(set)
    instrument_tags: dict[str, set[str]] = defaultdict(set)
    course_facts: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    level_of = {f"leitmotif:level:{word}": level for level, word in LEVEL_ENTITY_WORDS.items()}
    tag_artists: Counter[int] = Counter()
    # the protocol's population stays the KGCN artists whatever else the catalogue holds
    reference = tag_rule_artist_entity_ids()
    for head, rel, tail in zip(snapshot.heads.tolist(), snapshot.rels.tolist(), snapshot.tails.tolist()):
        head_id, tail_id = snapshot.ids[head], snapshot.ids[tail]
        if rel == relation(HAS_TAG) and types[head] == "Artist" and (not reference or head_id in reference):
            tag_artists[tail] += 1
            artist_tags[head_id].add(tail_id)
        elif rel == relation(ABOUT_INSTRUMENT):
            instrument_tags[tail_id].add(head_id)
        elif rel == relation(TEACHES_INSTRUMENT):
            course_facts[head_id]["instrument"].add(tail_id)
        elif rel == relation(TEACHES_CONCEPT):
            course_facts[head_id]["concept"].add(tail_id)
        elif rel == relation(HAS_LEVEL) and tail_id in level_of:
            course_facts[head_id]["level"].add(level_of[tail_id])
    about_any = {t for tags in instrument_tags.values() for t in tags}
    mood_words = set(lexicon.moods) | {t for tags in lexicon.mood_tags.values() for t in tags}
    artist_names = {
        snapshot.names[n].casefold()
        for n, t in enumerate(types)
        if t == "Artist" and (not reference or snapshot.ids[n] in reference)
    }
    genres = []
    for node, _ in tag_artists.most_common():
        name = snapshot.names[node]
        folded = name.casefold()
        if (
            folded in NOISE_TAGS
            or folded in mood_words
            or folded in artist_names
            or snapshot.ids[node] in about_any
            or folded in lexicon.filler
            or folded in lexicon.levels
            or not name.replace(" ", "").replace("-", "").isalpha()
        ):
            continue
        genres.append((name, snapshot.ids[node]))
        if len(genres) >= GENRE_POOL:
            break
    popular = list(
        tag_rule_artists()
        .annotate(n=Count("listens"))
        .filter(entity_id__in=list(artist_tags))
        .order_by("-n", "pk")
        .values_list("name", "entity_id")[: ARTIST_POOL * 2]
    )
    artists = [(name, eid) for name, eid in popular if name.isascii() and len(name) >= 3][:ARTIST_POOL]
    taught = {v for facts in course_facts.values() for key in ("instrument", "concept") for v in facts[key]}
    instruments = [
        (snapshot.names[n].casefold(), snapshot.ids[n])
        for n, t in enumerate(types)
        if t == "Instrument" and snapshot.ids[n] in taught
    ]
    players = {value: phrase for phrase, value in lexicon.players.items() if " " not in phrase}
    concepts = [
        (snapshot.names[n].casefold(), snapshot.ids[n])
        for n, t in enumerate(types)
        if t == "Concept" and snapshot.ids[n] in taught
    ]
    moods = [(phrase, mood) for phrase, mood in lexicon.moods.items() if " " not in phrase and "-" not in phrase]
    tags = tag_nodes_by_name(snapshot)
    instrument_concepts: dict[str, set[str]] = defaultdict(set)
    for facts in course_facts.values():
        for instrument in facts.get("instrument", ()):
            instrument_concepts[instrument] |= set(facts.get("concept", ()))
    return Pools(
        words={
            "genre": sorted(genres),
            "artist": sorted(artists),
            "instrument": sorted(instruments),
            "player": sorted((players[name], eid) for name, eid in instruments if name in players),
            "concept": sorted(concepts),
            "mood": sorted(moods),
            "level": sorted((word, level) for level, word in LEVEL_WORDS.items()),
        },
        artist_tags=dict(artist_tags),
        course_facts={c: dict(f) for c, f in course_facts.items() if f.get("instrument")},
        mood_tags={mood: mood_tag_ids(mood, lexicon, tags) for mood in set(lexicon.moods.values())},
        instrument_tags=dict(instrument_tags),
        instrument_concepts=instrument_concepts,
    )


def generate_requests(snapshot: Any, *, n: int = DEFAULT_REQUESTS, seed: int = 0) -> list[GeneratedRequest]:
    """``n`` requests: templates in turn, each filled around an *anchor* drawn with ``seed`` — an artist
    for music templates, a course for course templates — so the combination exists in the graph (the
    genre, mood and instrument the anchor artist is tagged with; the instrument, level and concept the
    anchor course teaches). Slots the anchor says nothing about are drawn at random."""
    pools = request_pools(snapshot)
    words = pools.words
    rng = random.Random(seed)
    usable = [t for t in TEMPLATES if all(words[s] for s in _slots(t))]
    genre_ids = {value for _, value in words["genre"]}
    anchors = sorted(a for a, tags in pools.artist_tags.items() if tags & genre_ids)
    courses = sorted(pools.course_facts)
    requests = []
    for i in range(n):
        template = usable[i % len(usable)]
        slots = _slots(template)
        wanted: dict[str, set[str]] = {}
        if any(cue in template for cue in COURSE_CUES) and courses:
            facts = pools.course_facts[rng.choice(courses)]
            wanted = {
                "instrument": set(facts.get("instrument", ())),
                "player": set(facts.get("instrument", ())),
                "level": set(facts.get("level", ())),
                "concept": set(facts.get("concept", ())),
            }
        elif anchors:
            anchor = rng.choice(words["artist"])[1] if "artist" in slots else rng.choice(anchors)
            tags = pools.artist_tags.get(anchor, set())
            wanted = {
                "artist": {anchor},
                "genre": tags & genre_ids,
                "mood": {m for m, mood_tags in pools.mood_tags.items() if mood_tags & tags},
                "instrument": {i for i, about in pools.instrument_tags.items() if about & tags},
            }
        fill: dict[str, str] = {}
        asked: dict[str, str] = {}
        # the instrument first: a concept not fixed by the anchor is one taught on that instrument
        for slot in sorted(slots, key=lambda name: name not in {"instrument", "player"}):
            if slot == "concept" and not wanted.get("concept") and "instrument" in asked:
                wanted["concept"] = pools.instrument_concepts.get(asked["instrument"], set())
            options = [(w, v) for w, v in words[slot] if v in wanted.get(slot, set())] or words[slot]
            surface, value = rng.choice(options)
            fill[slot] = surface
            asked["instrument" if slot == "player" else slot] = value
        text = rng.choice(DISTRACTORS_BEFORE) + template.format(**fill) + rng.choice(DISTRACTORS_AFTER)
        requests.append(GeneratedRequest(text=text, template=template, asked=asked))
    return requests


def split_requests(
    requests: Sequence[GeneratedRequest], *, seed: int = 0
) -> tuple[list[GeneratedRequest], list[GeneratedRequest]]:
    """(validation, test) halves, shuffled with ``seed``."""
    order = list(range(len(requests)))
    random.Random(seed + 1).shuffle(order)
    half = len(order) // 2
    return [requests[i] for i in order[:half]], [requests[i] for i in order[half:]]


def evaluate_requests(texts: Sequence[str], parser: RequestParser, *, k: int = ANSWER_K) -> dict[str, Any]:
    """Answer every text for a new learner and score the lists against the understood constraints.

    The learner is created inside a transaction that is rolled back: nothing is written.
    """
    from kg.stores import get_store
    from recommender.serving.selectors import graph_snapshot
    from recommender.understanding.answer import answer_request

    store = get_store()
    pairs: dict[str, dict[str, list[int]]] = {
        "music": defaultdict(lambda: [0, 0]),
        "course": defaultdict(lambda: [0, 0]),
    }
    items_all = {"music": [0, 0], "course": [0, 0]}
    answered = {"music": 0, "course": 0}
    unexplained = {"music": 0, "course": 0}
    relaxed = 0
    examples: list[dict[str, Any]] = []
    with transaction.atomic():
        listener = Listener.objects.create()
        snapshot = graph_snapshot()
        for text in texts:
            parsed = parser.parse(text)
            understood = request_constraints(parsed, snapshot, store=store)
            answer = answer_request(listener, parsed, k=k)
            relaxed += any("relaxed" in note for note in answer.notes)
            for what, results, constraints in (
                ("music", answer.music, understood.music),
                ("course", answer.courses, understood.courses),
            ):
                ok_items = 0
                for result in results:
                    checks = [(c, c.satisfied_by(snapshot, result.entity_id)) for c in constraints]
                    for constraint, ok in checks:
                        pairs[what][constraint.kind][0] += ok
                        pairs[what][constraint.kind][1] += 1
                    ok_items += all(ok for _, ok in checks)
                if constraints:
                    answered[what] += 1
                    # every item honours the request, or the answer says which part it relaxed
                    if ok_items < len(results) and not any(
                        "relaxed" in note or "ignored" in note or "instead" in note for note in answer.notes
                    ):
                        unexplained[what] += 1
                    items_all[what][0] += ok_items
                    items_all[what][1] += len(results)
            if len(examples) < 12:
                examples.append(_example(text, parsed, understood.music + understood.courses, answer, snapshot))
        transaction.set_rollback(True)
    return {
        "requests": len(texts),
        "answers_with_a_relaxed_constraint": relaxed,
        "music": {
            **_shares(pairs["music"], items_all["music"], answered["music"]),
            "answers_breaking_a_constraint_without_a_note": unexplained["music"],
        },
        "courses": {
            **_shares(pairs["course"], items_all["course"], answered["course"]),
            "answers_breaking_a_constraint_without_a_note": unexplained["course"],
        },
        "examples": examples,
    }


def parse_recall(requests: Sequence[GeneratedRequest], parser: RequestParser) -> dict[str, float]:
    """Share of the generated requests' constraints the parser understood, per kind."""
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for request in requests:
        parsed = parser.parse(request.text)
        found = {(u.role, u.value) for u in parsed.understood}
        for kind, value in request.asked.items():
            role = "instrument" if kind == "player" else kind
            ok = (
                (parsed.level == value)
                if kind == "level"
                else (value in parsed.moods if kind == "mood" else (role, value) in found)
            )
            hits[kind][0] += ok
            hits[kind][1] += 1
    return {kind: round(h / n, 4) for kind, (h, n) in sorted(hits.items())}


def _shares(pairs: dict[str, list[int]], items: list[int], answers: int) -> dict[str, Any]:
    return {
        "answers": answers,
        "items_checked": items[1],
        "mean_items_per_answer": round(items[1] / answers, 2) if answers else None,
        "items_satisfying_all": round(items[0] / items[1], 4) if items[1] else None,
        "per_constraint": {
            kind: {"satisfied": round(ok / n, 4), "pairs": n} for kind, (ok, n) in sorted(pairs.items()) if n
        },
    }


def _example(text: str, parsed: Any, constraints: list[Constraint], answer: Any, snapshot: Any) -> dict[str, Any]:
    return {
        "text": text,
        "constraints": [f"{c.applies_to}:{c.kind}={c.label}" for c in constraints],
        "music": [r.artist.name for r in answer.music[:5] if r.artist is not None],
        "courses": [r.course.title for r in answer.courses[:3] if r.course is not None],
        "notes": answer.notes,
    }


def _slots(template: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


#: Candidate minimums tried on the validation half (music, courses), paired: the two lists are scored apart.
TUNING_GRID = ((1, 1), (2, 1), (3, 1), (5, 2), (10, 3))
#: A minimum is good enough when the validation share of items satisfying all constraints reaches this.
TUNING_SHARE = 0.85


def tune_minimums(validation: Sequence[str], parser: RequestParser) -> dict[str, Any]:
    """Choose :data:`~.answer.MIN_MUSIC_CANDIDATES` and ``MIN_COURSE_CANDIDATES`` on the validation half:
    the largest minimum (longest lists) whose share of items satisfying every constraint reaches
    :data:`TUNING_SHARE`, else the one with the best share. Sets them in :mod:`.answer` and returns the runs."""
    from recommender.understanding import answer

    runs = []
    for music_min, course_min in TUNING_GRID:
        answer.MIN_MUSIC_CANDIDATES, answer.MIN_COURSE_CANDIDATES = music_min, course_min
        result = evaluate_requests(validation, parser)
        runs.append(
            {"music_min": music_min, "course_min": course_min, "music": result["music"], "courses": result["courses"]}
        )
    chosen = {}
    for what, key in (("music", "music_min"), ("courses", "course_min")):
        good = [r for r in runs if (r[what]["items_satisfying_all"] or 0) >= TUNING_SHARE]
        best = (
            max(good, key=lambda r: r[key]) if good else max(runs, key=lambda r: r[what]["items_satisfying_all"] or 0)
        )
        chosen[key] = best[key]
    answer.MIN_MUSIC_CANDIDATES, answer.MIN_COURSE_CANDIDATES = chosen["music_min"], chosen["course_min"]
    return {"grid": runs, "chosen": chosen, "rule": f"largest minimum with validation share >= {TUNING_SHARE}"}


def run_requests_protocol(
    parser: RequestParser,
    *,
    n: int = DEFAULT_REQUESTS,
    seed: int = 0,
    labelled: Sequence[str] = (),
    tune: bool = False,
) -> dict[str, Any]:
    """The whole protocol on the current graph and published model: generated requests (validation and test
    halves, with the parser's recall of what was put in) and the ``labelled`` request texts. ``tune``
    first chooses the answer's minimums on the validation half (:func:`tune_minimums`)."""
    from recommender.serving.selectors import graph_snapshot

    generated = generate_requests(graph_snapshot(), n=n, seed=seed)
    validation, test = split_requests(generated, seed=seed)
    result: dict[str, Any] = {"seed": seed, "generated": len(generated), "k": ANSWER_K}
    if tune:
        result["tuning"] = tune_minimums([r.text for r in validation], parser)
    for name, half in (("validation", validation), ("test", test)):
        result[name] = evaluate_requests([r.text for r in half], parser)
        result[name]["parse_recall"] = parse_recall(half, parser)
    if labelled:
        result["labelled"] = evaluate_requests(list(labelled), parser)
    return result


def results_markdown(result: dict[str, Any]) -> str:
    """The protocol's tables: per part and list, the share of items satisfying all constraints and per kind."""
    lines = [
        f"# Requests protocol (seed {result['seed']}, {result['generated']} generated requests, k={result['k']})",
        "",
        "Share of returned items satisfying the understood constraints, checked by graph facts.",
        "",
        "| part | list | answers | items/answer | all constraints | per constraint (share, pairs) |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for part in ("validation", "test", "labelled"):
        if part not in result:
            continue
        for what in ("music", "courses"):
            r = result[part][what]
            per = ", ".join(f"{k} {v['satisfied']:.2f} ({v['pairs']})" for k, v in r["per_constraint"].items())
            lines.append(
                f"| {part} | {what} | {r['answers']} | {r['mean_items_per_answer']} | "
                f"{r['items_satisfying_all']} | {per} |"
            )
    if "test" in result:
        recall = ", ".join(f"{k} {v:.2f}" for k, v in result["test"]["parse_recall"].items())
        lines += ["", f"Parser recall of the generated constraints (test half): {recall}."]
    return "\n".join(lines) + "\n"


def requests_report(*, seed: int = 0, n: int = DEFAULT_REQUESTS, reports_dir: str = "reports") -> Any:
    """Run the protocol with the served parser on the labelled and generated requests and write
    ``<reports_dir>/requests-<time>/`` (metrics.json, results.md); returns that folder."""
    import json
    import time
    from pathlib import Path

    from recommender.understanding.evaluation import read_labelled_requests
    from recommender.understanding.service import request_parser

    data = Path(__file__).resolve().parents[2] / "tests" / "recommender" / "data"
    labelled = [
        row.text
        for name in ("nl_requests.jsonl", "nl_requests_heldout.jsonl")
        if (data / name).exists()
        for row in read_labelled_requests(data / name)
    ]
    result = run_requests_protocol(request_parser(), n=n, seed=seed, labelled=labelled)
    folder = Path(reports_dir) / time.strftime("requests-%Y%m%dT%H%M%SZ", time.gmtime())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    (folder / "results.md").write_text(results_markdown(result))
    return folder
