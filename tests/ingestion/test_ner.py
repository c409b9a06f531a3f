"""The music NER model: corpus readers, label mapping, weak labels, scoring, a tiny training run, the artifact.

The corpora here are written inline (a handful of sentences in each format) and the model is tiny
(width 32, one CNN layer), so the whole file runs in seconds; real quality figures are in
``benchmarks/ner_quality.py``.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import spacy
from django.core.management import CommandError, call_command

from core.errors import ConfigurationError, DataFileError, DocumentInputError, ModelArtifactError
from ingestion.labels import CORPUS_LABEL_MAP, NER_LABELS
from ingestion.ner import Mention, NerModel, NerTrainingConfig, Sentence, config_from_json, load_ner_model
from ingestion.ner.artifacts import list_ner_artifacts, save_ner_artifact
from ingestion.ner.config import DEV_SOURCES, TRAIN_SOURCES, WEAK_SOURCES
from ingestion.ner.corpora import LabeledSentence, joined_spaces, read_bio_file
from ingestion.ner.evaluation import evaluate_pipeline, format_scores_table, score_spans
from ingestion.ner.model import sentences_of
from ingestion.ner.pipeline import build_pipeline
from ingestion.ner.services import ner_train_and_save
from ingestion.ner.training import assemble_training_data, split_validation, train_pipeline
from ingestion.ner.weak import (
    Gazetteer,
    WeakContext,
    build_weak_examples,
    course_title_examples,
    gazetteer_from_store,
    is_genre_tag,
    mention_swap_examples,
    query_form,
    usable_name,
)
from kg.services import graph_upsert
from kg.stores.base import EntityRecord, RelationRecord
from tests.helpers.ner_corpora import bio_text, read_bio_text, write

CROSSNER_BIO = """\
In\tO
1994\tO
,\tO
Radiohead\tB-band
played\tO
in\tO
London\tB-location
.\tO

Thom\tB-musicalartist
Yorke\tI-musicalartist
plays\tO
guitar\tB-musicalinstrument
and\tO
sings\tO
alternative\tB-musicgenre
rock\tI-musicgenre
(\tO
OK\tB-album
Computer\tI-album
)\tO
.\tO
"""

QUERY_BIO = """\
songs\tO
like\tO
thom\tB-Artist
yorke\tI-Artist

something\tO
similar\tO
to\tO
karma\tB-WoA
police\tI-WoA
by\tO
radiohead\tB-Artist
"""

#: Few distinct sentences, repeated so that two epochs of a tiny model learn something.
TINY_CASED = [
    ("Radiohead played in London .", [(0, 1, "band"), (3, 4, "location")]),
    ("Thom Yorke plays guitar in Oxford .", [(0, 2, "musicalartist"), (3, 4, "musicalinstrument"), (5, 6, "location")]),
    ("Bjork sang jazz in Paris .", [(0, 1, "musicalartist"), (2, 3, "musicgenre"), (4, 5, "location")]),
    ("Muse played rock in Berlin .", [(0, 1, "band"), (2, 3, "musicgenre"), (4, 5, "location")]),
]
TINY_QUERIES = [
    ("songs like radiohead", [(2, 3, "Artist")]),
    ("music similar to bjork", [(3, 4, "Artist")]),
    ("play karma police please", [(1, 3, "WoA")]),
]


def tiny_sources(copies: int = 6) -> dict[str, list[LabeledSentence]]:
    cased = read_bio_text(bio_text(TINY_CASED * copies), corpus="crossner")
    queries = read_bio_text(bio_text(TINY_QUERIES * copies), corpus="musicreconer")
    return {"crossner_train": cased, "musicreconer_train": queries}


TINY_CONFIG = NerTrainingConfig(
    seed=7,
    representation="blank.v1",  # the pretrained representation has its own tests in tests/ingestion/ner/
    gazetteer_features=False,
    epochs=2,
    patience=2,
    width=32,
    depth=1,
    embed_rows=500,
    hidden_width=32,
    learn_rate=0.01,
    batch_size_start=2,
    batch_size_end=4,
    validation_fraction=0.2,
    weak_sources=(),
)


@pytest.fixture(scope="module")
def tiny_trained():
    data = assemble_training_data(TINY_CONFIG, train_sources=tiny_sources())
    return train_pipeline(TINY_CONFIG, data, progress=False)


# --- readers ----------------------------------------------------------------------------------------


def test_crossner_sentences_are_read_with_mapped_labels_and_char_offsets(tmp_path):
    sentences = read_bio_file(write(tmp_path / "ner.txt", CROSSNER_BIO), corpus="crossner")
    assert [s.origin for s in sentences] == [f"{tmp_path / 'ner.txt'}:1", f"{tmp_path / 'ner.txt'}:10"]
    first, second = sentences
    assert first.text == "In 1994, Radiohead played in London."
    assert [(first.text[a:b], label) for a, b, label in first.char_entities()] == [
        ("Radiohead", "BAND"),
        ("London", "PLACE"),
    ]
    assert second.text == "Thom Yorke plays guitar and sings alternative rock (OK Computer)."
    assert [(second.text[a:b], label) for a, b, label in second.char_entities()] == [
        ("Thom Yorke", "ARTIST"),
        ("guitar", "INSTRUMENT"),
        ("alternative rock", "GENRE"),
        ("OK Computer", "WORK"),
    ]
    doc = second.to_doc(spacy.blank("en").vocab)
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Thom Yorke", "ARTIST"),
        ("guitar", "INSTRUMENT"),
        ("alternative rock", "GENRE"),
        ("OK Computer", "WORK"),
    ]


def test_musicreconer_queries_map_artist_and_work_of_art(tmp_path):
    sentences = read_bio_file(write(tmp_path / "train.bio", QUERY_BIO.replace("\n", "\r\n")), corpus="musicreconer")
    assert [s.text for s in sentences] == ["songs like thom yorke", "something similar to karma police by radiohead"]
    assert [[(s.text[a:b], label) for a, b, label in s.char_entities()] for s in sentences] == [
        [("thom yorke", "ARTIST")],
        [("karma police", "WORK"), ("radiohead", "ARTIST")],
    ]


def test_every_corpus_label_maps_onto_the_ner_label_set():
    assert set(CORPUS_LABEL_MAP.values()) <= set(NER_LABELS)
    crossner_types = {
        "musicgenre",
        "song",
        "band",
        "album",
        "musicalartist",
        "musicalinstrument",
        "award",
        "event",
        "country",
        "location",
        "organisation",
        "person",
        "misc",
    }
    assert {label for corpus, label in CORPUS_LABEL_MAP if corpus == "crossner"} == crossner_types
    assert {label for corpus, label in CORPUS_LABEL_MAP if corpus == "musicreconer"} == {"Artist", "WoA"}


def test_a_corpus_label_without_mapping_is_missing_not_outside(tmp_path):
    path = write(tmp_path / "ner.txt", CROSSNER_BIO)
    label_map = {key: value for key, value in CORPUS_LABEL_MAP.items() if key != ("crossner", "album")}
    second = read_bio_file(path, corpus="crossner", label_map=label_map)[1]
    assert "WORK" not in {s.label for s in second.entities}
    assert [(second.tokens[s.start], s.label) for s in second.missing] == [("OK", "album")]
    doc = second.to_doc(spacy.blank("en").vocab)
    assert [t.ent_iob_ for t in doc[9:11]] == ["", ""]  # unknown, neither entity nor outside
    assert doc[8].ent_iob_ == "O"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("A\tO\nB O\n", 2, "expected 'token<TAB>tag'"),
        ("A\tO\nB\tO\textra\n", 2, "found 2 tabs"),
        ("A\tO\n\tO\n", 2, "empty or contains whitespace"),
        ("A\tX-song\n", 1, "invalid BIO tag 'X-song'"),
        ("A\tB-\n", 1, "invalid BIO tag 'B-'"),
        ("A\tO\nB\tI-band\n", 2, "continues no 'band' entity (it follows O)"),
        ("A\tB-song\nB\tI-band\n", 2, "it should be B-band"),
        ("\nA\tI-song\n", 2, "follows the sentence start"),
        (b"A\tO\n\xff\tO\n", 2, "not valid UTF-8"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, line, fragment):
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(DataFileError) as caught:
        read_bio_file(path, corpus="crossner")
    assert caught.value.path == str(path) and caught.value.line == line
    assert fragment in str(caught.value)
    assert f"{path}:{line}:" in str(caught.value)


def test_missing_empty_files_and_unknown_corpora_are_refused(tmp_path):
    with pytest.raises(DataFileError, match="not found"):
        read_bio_file(tmp_path / "nope.txt", corpus="crossner")
    with pytest.raises(DataFileError, match="no sentences"):
        read_bio_file(write(tmp_path / "empty.txt", "\n\n"), corpus="crossner")
    with pytest.raises(ConfigurationError, match="Unknown NER corpus 'conll'"):
        read_bio_file(write(tmp_path / "ok.txt", "A\tO\n"), corpus="conll")


def test_tokens_join_back_into_written_text():
    tokens = ["In", "the", "U.S.", "(", "and", "Canada", ")", ",", "Bjork", "'s", "songs", "did", "n't", "chart", "."]
    spaces = joined_spaces(tokens)
    text = "".join(t + (" " if s else "") for t, s in zip(tokens, spaces))
    assert text == "In the U.S. (and Canada), Bjork's songs didn't chart."


def test_dev_files_are_separate_from_training_sources():
    assert not set(DEV_SOURCES) & set(TRAIN_SOURCES)
    assert not {path for _, path in DEV_SOURCES.values()} & {path for _, path in TRAIN_SOURCES.values()}
    assert all("ingestion-samples" not in path for _, path in TRAIN_SOURCES.values())


# --- config -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"epochs": 0}, "epochs must be an integer of at least 1"),
        ({"epochs": True}, "epochs must be an integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"dropout": 0.95}, "dropout must be a number in [0.0, 0.9]"),
        ({"weak_fraction": float("nan")}, "weak_fraction must be a number"),
        ({"validation_fraction": 0}, "validation_fraction must be a number in (0.0, 0.5]"),
        ({"batch_size_start": 8, "batch_size_end": 4}, "batch_size_end (4) must be at least batch_size_start (8)"),
        ({"train_sources": ["crossner_dev"]}, "Dev sets are only for the final report"),
        ({"train_sources": []}, "train_sources is empty"),
        ({"train_sources": "crossner_train"}, "must be a list of names"),
        ({"weak_sources": ["wikipedia"]}, "unknown weak_sources ['wikipedia']"),
    ],
)
def test_bad_config_values_are_refused_with_what_to_fix(changes, fragment):
    with pytest.raises(ConfigurationError) as caught:
        NerTrainingConfig().updated(**changes)
    assert fragment in str(caught.value)


def test_config_round_trips_and_parses_json(tmp_path):
    config = NerTrainingConfig(epochs=5, weak_sources=("course_titles",))
    assert NerTrainingConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert (
        config.config_hash()
        == NerTrainingConfig.from_dict(config.to_dict()).config_hash()
        != NerTrainingConfig().config_hash()
    )
    assert config_from_json('{"epochs": 3}').epochs == 3
    assert config_from_json(str(write(tmp_path / "c.json", '{"dropout": 0.3}'))).dropout == 0.3
    with pytest.raises(ConfigurationError, match=r"unknown keys \['epoch'\]"):
        config_from_json('{"epoch": 3}')
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        config_from_json("{epochs: 3}")
    with pytest.raises(ConfigurationError, match="neither"):
        config_from_json("missing.json")
    assert not NerTrainingConfig(weak_fraction=0).uses_weak_labels
    assert not NerTrainingConfig(weak_sources=()).uses_weak_labels


# --- scoring ------------------------------------------------------------------------------------------


def test_exact_span_scoring_per_label_micro_macro_and_boundaries():
    gold = [[(0, 5, "ARTIST"), (10, 15, "GENRE")], [(0, 3, "PLACE")]]
    predicted = [[(0, 5, "ARTIST"), (10, 15, "WORK")], [(0, 4, "PLACE"), (5, 8, "ARTIST")]]
    scores = score_spans(gold, predicted, labels=["ARTIST", "GENRE", "PLACE", "WORK"])
    artist = scores.per_label["ARTIST"]
    assert (artist.gold, artist.predicted, artist.correct) == (1, 2, 1)
    assert artist.precision == 0.5 and artist.recall == 1.0 and artist.f1 == pytest.approx(2 / 3)
    assert scores.per_label["GENRE"].f1 == 0.0 and scores.per_label["PLACE"].f1 == 0.0
    assert (scores.micro.gold, scores.micro.predicted, scores.micro.correct) == (3, 4, 1)
    assert scores.micro.f1 == pytest.approx(2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))
    assert scores.macro_labels == ["ARTIST", "GENRE", "PLACE"]  # WORK only predicted: not in the macro average
    assert scores.macro_f1 == pytest.approx((2 / 3) / 3)
    assert (scores.unlabeled.gold, scores.unlabeled.predicted, scores.unlabeled.correct) == (3, 4, 2)
    table = format_scores_table({"dev": scores}, labels=NER_LABELS)
    assert "| ARTIST | 0.500 | 1.000 | 0.667 | 1 |" in table and "**micro**" in table and "| EVENT |" not in table
    assert "| WORK | 0.000 | – | – | 0 (1 predicted) |" in table
    with pytest.raises(ValueError):
        score_spans(gold, predicted[:1])


# --- weak labels --------------------------------------------------------------------------------------


def test_genre_tags_and_usable_names():
    for tag in ("rock", "indie rock", "synthpop", "melodic death metal", "hip-hop", "post-punk", "drum and bass"):
        assert is_genre_tag(tag), tag
    for tag in ("seen live", "90s", "female vocalists", "awesome", "favorite rock", "british", "piano"):
        assert not is_genre_tag(tag), tag
    assert usable_name("Guitar") and usable_name("Music theory")
    assert (
        not usable_name("singer")
        and not usable_name("Licks, riffs and fills")
        and not usable_name("Repertoire (songs)")
    )
    assert query_form("AC/DC") == "ac dc" and query_form("Guns N' Roses") == "guns n roses"


def seed_graph(store) -> None:
    """Two persons, a band, an artist with no Freebase facts, genre and non-genre tags, an instrument, a concept."""
    entities = [
        EntityRecord(id="lastfm:artist:1", type="Artist", name="Thom Yorke"),
        EntityRecord(id="lastfm:artist:2", type="Artist", name="Björk"),
        EntityRecord(id="lastfm:artist:3", type="Artist", name="The Smashing Pumpkins"),
        EntityRecord(id="lastfm:artist:4", type="Artist", name="DJ Nobody"),
        EntityRecord(id="kgcn:1", type="Place", name="Place kgcn:1", properties={"named": False}),
        EntityRecord(id="kgcn:2", type="Genre", name="Genre kgcn:2", properties={"named": False}),
        EntityRecord(id="lastfm:tag:1", type="Tag", name="indie rock"),
        EntityRecord(id="lastfm:tag:2", type="Tag", name="seen live"),
        EntityRecord(id="lastfm:tag:3", type="Tag", name="jazz"),  # only one artist: too rare to trust
        EntityRecord(id="leitmotif:instrument:drums", type="Instrument", name="Drums", aliases=("drum", "drummer")),
        EntityRecord(id="leitmotif:concept:chords", type="Concept", name="Chords", aliases=("chord",)),
        EntityRecord(id="udemy:course:1", type="Course", name="Blues Guitar"),
    ]
    relations = [
        RelationRecord(head="lastfm:artist:1", type="PLACE_OF_BIRTH", tail="kgcn:1"),
        RelationRecord(head="lastfm:artist:2", type="INSTRUMENTS_PLAYED", tail="kgcn:2"),
        RelationRecord(head="lastfm:artist:3", type="ORIGIN", tail="kgcn:1"),
        *[RelationRecord(head=f"lastfm:artist:{n}", type="HAS_TAG", tail="lastfm:tag:1") for n in (1, 2, 3)],
        *[RelationRecord(head=f"lastfm:artist:{n}", type="HAS_TAG", tail="lastfm:tag:2") for n in (1, 2, 3, 4)],
        RelationRecord(head="lastfm:artist:1", type="HAS_TAG", tail="lastfm:tag:3"),
    ]
    graph_upsert(store=store, entities=entities, relations=relations)


def test_gazetteer_reads_names_from_the_graph_store(sql_store):
    seed_graph(sql_store)
    gazetteer = gazetteer_from_store(sql_store, min_genre_tag_artists=3)
    assert gazetteer.names == {
        "ARTIST": ("Björk", "Thom Yorke"),
        "BAND": ("The Smashing Pumpkins",),
        "INSTRUMENT": ("Drums", "drum"),
        "GENRE": ("indie rock",),
        "CONCEPT": ("Chords", "chord"),
    }
    assert gazetteer.query_artists == ("björk", "dj nobody", "the smashing pumpkins", "thom yorke")
    assert gazetteer.counts()["artists_for_queries"] == 4 and len(gazetteer.fingerprint()) == 64


def test_an_empty_graph_gives_no_weak_examples(sql_store):
    gazetteer = gazetteer_from_store(sql_store)
    assert gazetteer.is_empty
    config = NerTrainingConfig(weak_sources=WEAK_SOURCES, weak_fraction=1.0)
    data = assemble_training_data(
        config, store=sql_store, course_titles=["Blues Guitar for Beginners"], train_sources=tiny_sources(1)
    )
    assert data.weak is not None and data.weak.examples == ()
    assert data.stats["weak"]["total_used"] == 0 and data.stats["weak"]["used"] == {
        "mention_swap": 0,
        "course_titles": 0,
    }


def weak_context(sentences, titles=()) -> WeakContext:
    gazetteer = Gazetteer(
        names={
            "ARTIST": ("Thom Yorke",),
            "BAND": ("The Smashing Pumpkins",),
            "GENRE": ("indie rock", "blues"),
            "INSTRUMENT": ("Drums", "Guitar"),
            "CONCEPT": ("Chords",),
        },
        query_artists=("the smashing pumpkins",),
    )
    return WeakContext(
        gazetteer=gazetteer,
        train_sentences=sentences,
        course_titles=list(titles),
        nlp=spacy.blank("en"),
        rng=random.Random(3),
    )


def test_mention_swap_puts_graph_names_into_real_contexts(tmp_path):
    cased = read_bio_file(write(tmp_path / "ner.txt", CROSSNER_BIO), corpus="crossner")
    queries = read_bio_file(write(tmp_path / "q.bio", QUERY_BIO), corpus="musicreconer")
    examples = mention_swap_examples(weak_context([*cased, *queries]), limit=4)
    assert len(examples) == 4
    by_text = {e.text: [(e.text[a:b], label) for a, b, label in e.char_entities()] for e in examples}
    assert by_text["In 1994, The Smashing Pumpkins played in London."] == [
        ("The Smashing Pumpkins", "BAND"),
        ("London", "PLACE"),
    ]
    (musician,) = [entities for text, entities in by_text.items() if text.startswith("Thom Yorke plays ")]
    assert [label for _, label in musician] == ["ARTIST", "INSTRUMENT", "GENRE", "WORK"]
    # Common nouns take the case of the mention they replace; the album (no WORK names in the graph) stays.
    assert musician[0][0] == "Thom Yorke" and musician[1][0] in {"drums", "guitar"}
    assert musician[2][0] in {"indie rock", "blues"} and musician[3][0] == "OK Computer"
    # Queries get every artist in query form, as MusicRecoNER labels bands "Artist" too.
    assert by_text["songs like the smashing pumpkins"] == [("the smashing pumpkins", "ARTIST")]
    assert by_text["something similar to karma police by the smashing pumpkins"] == [
        ("karma police", "WORK"),
        ("the smashing pumpkins", "ARTIST"),
    ]
    assert mention_swap_examples(weak_context([*cased, *queries]), limit=0) == []


def test_course_titles_label_matches_and_leave_unknown_names_missing():
    titles = [
        "Blues Guitar with Stevie Ray",
        "Learn Guitar Chords",
        "Guitar for Beginners",
        "Learn Guitar Today",
        "Learn Piano Today",
    ]
    examples = course_title_examples(weak_context([], titles), limit=10)
    by_text = {e.text: e for e in examples}
    assert set(by_text) == {
        "Blues Guitar with Stevie Ray",
        "Learn Guitar Chords",
        "Guitar for Beginners",
        "Learn Guitar Today",
    }
    blues = by_text["Blues Guitar with Stevie Ray"]
    assert [(blues.text[a:b], label) for a, b, label in blues.char_entities()] == [
        ("Blues", "GENRE"),
        ("Guitar", "INSTRUMENT"),
    ]
    # "Stevie" and "Ray" are capitalised and rare across titles: unknown, not "outside".
    assert [blues.tokens[s.start] for s in blues.missing] == ["Stevie", "Ray"]
    doc = blues.to_doc(spacy.blank("en").vocab)
    assert [t.ent_iob_ for t in doc] == ["B", "B", "O", "", ""]
    # "Learn" is in three titles: an ordinary title word, so outside.
    assert [t.ent_iob_ for t in by_text["Learn Guitar Chords"].to_doc(spacy.blank("en").vocab)] == ["O", "B", "B"]


def test_weak_examples_are_shared_among_sources_up_to_the_limit(tmp_path):
    cased = read_bio_file(write(tmp_path / "ner.txt", CROSSNER_BIO), corpus="crossner")
    titles = ["Blues Guitar", "Indie Rock Drums", "Guitar Chords"]
    weak = build_weak_examples(weak_context(cased, titles), sources=("mention_swap", "course_titles"), limit=4)
    assert weak.used == {"mention_swap": 2, "course_titles": 2} and len(weak.examples) == 4
    weak = build_weak_examples(weak_context(cased, titles[:1]), sources=("mention_swap", "course_titles"), limit=5)
    assert weak.used == {"mention_swap": 4, "course_titles": 1}  # one title only: the swap fills the rest
    assert weak.to_dict()["total_used"] == 5


def test_validation_is_carved_from_each_training_source_and_is_seeded():
    sources = tiny_sources(copies=5)
    split = split_validation(sources, fraction=0.2, seed=1)
    assert split.sizes == {"crossner_train": (16, 4), "musicreconer_train": (12, 3)}
    again = split_validation(sources, fraction=0.2, seed=1)
    assert [s.origin for s in again.validation] == [s.origin for s in split.validation]
    assert not {id(s) for s in split.validation} & {id(s) for s in split.train}


# --- tiny training, artifact, loader -----------------------------------------------------------------


def test_tiny_training_saves_reloads_and_extracts_with_char_offsets(tiny_trained, settings):
    assert tiny_trained.epochs_run == 2 and tiny_trained.best_epoch in (1, 2)
    path = save_ner_artifact(
        tiny_trained.nlp, config=TINY_CONFIG, metrics={"validation": tiny_trained.validation.to_dict()}
    )
    assert path.parent == Path(settings.LEITMOTIF_ARTIFACTS_DIR) / "ner"
    assert {"config.json", "metrics.json", "manifest.json", "model"} <= {p.name for p in path.iterdir()}
    model = load_ner_model()
    assert isinstance(model, NerModel) and model.version == path.name and set(NER_LABELS) <= set(model.labels)
    assert model.config == TINY_CONFIG
    text = "Radiohead played in London .\n\nThom Yorke plays guitar in Oxford . Muse played rock in Berlin ."
    sentences = model.extract_sentences(text)
    assert [s.text for s in sentences] == [
        "Radiohead played in London .",
        "Thom Yorke plays guitar in Oxford .",
        "Muse played rock in Berlin .",
    ]
    assert [(s.index, text[s.start : s.end]) for s in sentences] == [(i, s.text) for i, s in enumerate(sentences)]
    mentions = model.extract(text)
    assert mentions, "two epochs on repeated sentences should find some of their entities"
    for mention in mentions:
        assert isinstance(mention, Mention) and text[mention.start : mention.end] == mention.text
        sentence = sentences[mention.sentence_index]
        assert sentence.start <= mention.start < mention.end <= sentence.end and mention in sentence.mentions
    assert mentions == [m for s in sentences for m in s.mentions]
    assert model.extract_many([text, "", "songs like radiohead"], batch_size=2)[0] == mentions
    assert model.extract_many(["", "   \n "]) == [[], []]
    assert load_ner_model(path.name).version == path.name == load_ner_model(path).version


def test_extraction_refuses_what_is_not_text(tiny_trained):
    model = NerModel(tiny_trained.nlp, version="test")
    with pytest.raises(DocumentInputError, match="must be a str, got bytes"):
        model.extract(b"Radiohead")
    with pytest.raises(DocumentInputError, match="not one string"):
        model.extract_many("Radiohead")
    with pytest.raises(DocumentInputError, match="text #1 must be a str"):
        model.extract_many(["ok", None])
    with pytest.raises(DocumentInputError, match="batch_size"):
        model.extract_many(["ok"], batch_size=0)
    with pytest.raises(DocumentInputError, match="Split the document"):
        model.extract("x" * (model.nlp.max_length + 1))


def test_sentences_split_on_lines_and_punctuation_without_a_model():
    nlp = build_pipeline(TINY_CONFIG)
    text = "  First line without stop\nSecond one. Third one!\n\n   \nLast"
    with nlp.select_pipes(disable=["tok2vec", "ner"]):
        doc = nlp(text)
    expected = ["First line without stop", "Second one.", "Third one!", "Last"]
    assert [(s.index, s.text, s.start, s.end) for s in sentences_of(doc)] == [
        (i, part, text.index(part), text.index(part) + len(part)) for i, part in enumerate(expected)
    ]
    assert all(isinstance(s, Sentence) for s in sentences_of(doc))


def test_missing_or_damaged_artifacts_say_to_run_train_ner(tiny_trained, settings, tmp_path):
    with pytest.raises(ModelArtifactError) as caught:
        load_ner_model()
    assert caught.value.code == "E031" and "run `python manage.py train_ner`" in str(caught.value)
    with pytest.raises(ModelArtifactError, match="not found"):
        load_ner_model(tmp_path / "nowhere")
    path = save_ner_artifact(tiny_trained.nlp, config=TINY_CONFIG, metrics={})
    (path / "model" / "ner" / "model").write_bytes(b"edited")
    with pytest.raises(ModelArtifactError, match="checksum does not match"):
        load_ner_model(path)
    (path / "manifest.json").unlink()
    assert list_ner_artifacts() == []  # no manifest: not a complete artifact
    with pytest.raises(ModelArtifactError, match="train_ner"):
        load_ner_model(path)


def test_same_seed_gives_the_same_model_and_predictions(tiny_trained):
    again = train_pipeline(
        TINY_CONFIG, assemble_training_data(TINY_CONFIG, train_sources=tiny_sources()), progress=False
    )
    texts = ["Bjork sang jazz in Paris .", "music similar to radiohead", "Thom Yorke plays rock in Berlin ."]
    first = [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in tiny_trained.nlp.pipe(texts)]
    second = [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in again.nlp.pipe(texts)]
    assert first == second
    assert tiny_trained.nlp.get_pipe("ner").to_bytes(exclude=["vocab"]) == again.nlp.get_pipe("ner").to_bytes(
        exclude=["vocab"]
    )
    assert tiny_trained.history == again.history
    validation = assemble_training_data(TINY_CONFIG, train_sources=tiny_sources()).validation
    assert evaluate_pipeline(again.nlp, validation).micro.f1 == tiny_trained.validation.micro.f1


# --- end to end: service and command -----------------------------------------------------------------


@pytest.fixture
def tiny_data_dir(tmp_path, settings) -> Path:
    """A data folder with the corpora files at their real relative paths (tiny contents)."""
    root = tmp_path / "data"
    cased = bio_text(TINY_CASED * 3)
    queries = bio_text(TINY_QUERIES * 3)
    for corpus, relative in {**TRAIN_SOURCES, **DEV_SOURCES}.values():
        write(root / relative, cased if corpus == "crossner" else queries)
    settings.LEITMOTIF_DATA_DIR = str(root)
    return root


def test_service_trains_reports_dev_scores_and_saves(tiny_data_dir):
    config = TINY_CONFIG.updated(epochs=1)
    report = ner_train_and_save(config, progress=False)
    assert set(report.dev) == {"crossner_dev", "musicreconer_dev", "combined"}
    assert (
        report.dev["combined"].micro.gold
        == report.dev["crossner_dev"].micro.gold + report.dev["musicreconer_dev"].micro.gold
    )
    metrics = json.loads((report.path / "metrics.json").read_text())
    assert metrics["data"]["weak"] == {"total_used": 0, "reason": "weak labels switched off in the config"}
    assert metrics["dev"]["crossner_dev"]["per_label"]["BAND"]["gold"] == 6
    assert metrics["training"]["epochs_run"] == 1
    assert json.loads((report.path / "config.json").read_text()) == config.to_dict()


def test_train_ner_command_prints_the_dev_table_and_saves(tiny_data_dir, tmp_path, capsys):
    output = tmp_path / "models"
    tiny = json.dumps({**TINY_CONFIG.to_dict(), "epochs": 1})
    call_command("train_ner", "--no-weak", "--no-progress", "--seed", "3", "--config", tiny, "--output", str(output))
    printed = capsys.readouterr().out
    assert "| label | crossner_dev P" in printed and "**micro**" in printed and "Saved NER model ner-" in printed
    (saved,) = list_ner_artifacts(output)
    assert json.loads((saved / "config.json").read_text())["seed"] == 3


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--epochs", "0"], "epochs must be an integer of at least 1"),
        (["--config", '{"bogus": 1}'], "unknown keys ['bogus']"),
        (["--config", "{nope"], "not valid JSON"),
        (["--seed", "-2"], "seed must be a non-negative integer"),
    ],
)
def test_train_ner_command_refuses_bad_options_in_one_line(arguments, fragment):
    with pytest.raises(CommandError) as caught:
        call_command("train_ner", *arguments)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_train_ner_command_reports_a_missing_corpus(tmp_path, settings):
    settings.LEITMOTIF_DATA_DIR = str(tmp_path / "empty")
    with pytest.raises(CommandError, match="NER corpus file not found"):
        call_command("train_ner", "--no-weak", "--no-gazetteer", "--no-progress")


def test_saved_artifact_can_be_copied_and_loaded_elsewhere(tiny_trained, tmp_path):
    path = save_ner_artifact(tiny_trained.nlp, config=TINY_CONFIG, metrics={}, directory=tmp_path / "a")
    copy = tmp_path / "b" / path.name
    shutil.copytree(path, copy)
    assert load_ner_model(copy).extract("Radiohead played in London .") == NerModel(
        tiny_trained.nlp, version="x"
    ).extract("Radiohead played in London .")
    assert [p.name for p in (tmp_path / "a").iterdir()] == [path.name]  # no .partial directory left behind
