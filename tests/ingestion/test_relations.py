"""The relation extractor: schema, corpus readers and mapping, NONE generation, splits, distant
supervision, training → artifact → inference, errors, determinism, the baseline and the command.

Test data is written into a temporary data folder shaped like the shared one (CrossRE + FewRel files),
small enough that a 2-epoch training run takes about a second. The FewRel-style part is a learnable
pattern ("<artist> plays the <instrument>", "<artist> is a soprano", "<song> was composed by <artist>")
so that the tiny model does predict relations and their indices can be checked.
"""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest
import torch
from django.core.management import CommandError, call_command

from core.errors import ConfigurationError, DataFileError, DocumentInputError, ModelArtifactError
from ingestion.labels import CORPUS_LABEL_MAP
from ingestion.relations import MentionSpan, RelationPrediction, load_relation_extractor
from ingestion.relations.artifacts import VOCAB_FILE, list_relation_artifacts
from ingestion.relations.baseline import LogisticRegressionBaseline
from ingestion.relations.config import RelationTrainingConfig
from ingestion.relations.corpora import (
    crossner_gazetteer,
    crossre_to_annotated,
    detokenise,
    fewrel_to_annotated,
    read_crossre,
    read_fewrel,
)
from ingestion.relations.corpus_mapping import CROSSRE_RULES, FEWREL_MAPPINGS, GRAPH_RELATION_MAP, map_crossre_relation
from ingestion.relations.datasets import build_relation_datasets, stratified_group_split, text_key
from ingestion.relations.distant import apply_distant_supervision
from ingestion.relations.evaluation import relation_scores
from ingestion.relations.features import mark_pair, tokenise
from ingestion.relations.pipeline import run_relation_training
from ingestion.relations.records import AnnotatedSentence, candidate_pairs
from ingestion.relations.schema import (
    NONE_RELATION,
    RELATION_LABELS,
    RELATION_TYPES,
    RELATIONS_BY_NAME,
    allowed_label_mask,
    relations_for_labels,
    schema_problems,
)
from ingestion.relations.training import train_bilstm
from kg.schema import KNOWN_RELATION_TYPES
from kg.stores.base import EntityRecord, RelationRecord
from tests.helpers.relation_corpora import (
    CROSSRE,
    DEV_LINE,
    DUET,
    FEWREL,
    METALLICA,
    PUPPETS,
    fewrel_line,
    fewrel_lines,
    tiny_config,
)

# --- tiny corpora (their lines are in tests/helpers/relation_corpora.py) ---------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / CROSSRE).mkdir(parents=True)
    (root / FEWREL).mkdir()
    (root / CROSSRE / "re_train.jsonl").write_text("\n".join([METALLICA, PUPPETS, DUET]) + "\n", encoding="utf-8")
    (root / CROSSRE / "re_test_part_shared.jsonl").write_text(
        DEV_LINE.replace("music-dev-1", "music-test-9") + "\n", encoding="utf-8"
    )
    (root / CROSSRE / "re_dev.jsonl").write_text(DEV_LINE + "\n", encoding="utf-8")
    (root / FEWREL / "train.jsonl").write_text("\n".join(fewrel_lines()) + "\n", encoding="utf-8")
    return root


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- schema ------------------------------------------------------------------------------------------


def test_schema_is_consistent_with_the_ner_labels():
    assert schema_problems() == []
    assert RELATION_LABELS[0] == NONE_RELATION and len(set(RELATION_LABELS)) == len(RELATION_LABELS)
    assert {r.name for r in RELATION_TYPES} == set(RELATION_LABELS[1:])
    # Names shared with the Freebase-derived graph relations are spelled exactly the same.
    assert {"INSTRUMENTS_PLAYED", "ORIGIN"} <= set(KNOWN_RELATION_TYPES.values())
    assert RELATIONS_BY_NAME["COMPOSED"].allows("ARTIST", "WORK") and not RELATIONS_BY_NAME["COMPOSED"].allows(
        "WORK", "ARTIST"
    )
    assert relations_for_labels("ARTIST", "WORK") == ("COMPOSED", "PERFORMED")
    assert relations_for_labels("GENRE", "ARTIST") == ()
    mask = allowed_label_mask("ARTIST", "INSTRUMENT")
    assert [label for label, ok in zip(RELATION_LABELS, mask) if ok] == [NONE_RELATION, "INSTRUMENTS_PLAYED"]


def test_every_mapping_row_lands_on_labels_its_relation_allows():
    for rule in CROSSRE_RULES:
        relation = RELATIONS_BY_NAME[rule.relation]
        for head_type in rule.head_types:
            for tail_type in rule.tail_types:
                head, tail = CORPUS_LABEL_MAP[("crossner", head_type)], CORPUS_LABEL_MAP[("crossner", tail_type)]
                assert relation.allows(head, tail), (rule, head, tail)
    for mapping in FEWREL_MAPPINGS.values():
        assert RELATIONS_BY_NAME[mapping.relation].allows(mapping.head_label, mapping.tail_label), mapping
    assert set(GRAPH_RELATION_MAP.values()) <= set(RELATIONS_BY_NAME)


# --- readers -----------------------------------------------------------------------------------------


def test_crossre_reader_reads_spans_and_drops_blank_tokens(tmp_path):
    line = json.dumps(
        {
            "doc_key": "d1",
            "sentence": ["Bjork", "\u00a0", "plays", "the", "flute", "."],
            "ner": [[0, 0, "musicalartist"], [4, 4, "musicalinstrument"]],
            "relations": [[0, 0, 4, 4, "usage", "plays_instrument", False, False]],
        }
    )
    [sentence] = read_crossre(write_lines(tmp_path / "re.jsonl", [line, ""]))
    assert sentence.tokens == ("Bjork", "plays", "the", "flute", ".")
    assert [(e.start, e.end, e.type) for e in sentence.entities] == [
        (0, 0, "musicalartist"),
        (3, 3, "musicalinstrument"),
    ]
    assert sentence.relations[0].tail == (3, 3) and sentence.relations[0].explanation == "plays_instrument"


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("{not json", "not a JSON object"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"sentence": ["a"], "ner": []}), "missing key(s) relations"),
        (json.dumps({"sentence": [], "ner": [], "relations": []}), "non-empty list"),
        (json.dumps({"sentence": ["a", "b"], "ner": [[0, 5, "band"]], "relations": []}), "outside the 2 tokens"),
        (
            json.dumps({"sentence": ["a", "b"], "ner": [[0, "x", "band"]], "relations": []}),
            "must be [start, end, type]",
        ),
        (
            json.dumps({"sentence": ["a", "b"], "ner": [[0, 0, "band"]], "relations": [[0, 0, 1, 1, "social"]]}),
            "not in 'ner'",
        ),
        (
            json.dumps({"sentence": ["a", "b"], "ner": [[0, 0, "band"], [1, 1, "band"]], "relations": [[0, 0, 1]]}),
            "relation entry",
        ),
    ],
)
def test_crossre_reader_names_file_and_line_of_a_malformed_line(tmp_path, bad_line, message):
    path = write_lines(tmp_path / "re.jsonl", [PUPPETS, bad_line])
    with pytest.raises(DataFileError) as caught:
        read_crossre(path)
    assert caught.value.path == str(path) and caught.value.line == 2
    assert f"{path}:2:" in str(caught.value) and message in str(caught.value)


def test_fewrel_reader_validates_spans_and_names_the_line(tmp_path):
    good = fewrel_line(["Ann", "Lee", "plays", "the", "\n", "harp", "."], (0, 2), (5, 6), "P1303", "instrument")
    [instance] = read_fewrel(write_lines(tmp_path / "ok.jsonl", [good]))
    assert instance.tokens == ("Ann", "Lee", "plays", "the", "harp", ".") and (
        instance.tail.start,
        instance.tail.end,
    ) == (4, 5)
    cases = [
        (fewrel_line(["a", "b"], (0, 1), (1, 3), "P1303", "x"), "outside the 2 tokens"),
        (fewrel_line(["a", "b", "c"], (0, 2), (1, 3), "P1303", "x"), "overlap"),
        (json.dumps({"token": ["a", "b"], "h": {"pos": [0, 1]}, "t": {"pos": [1, 2]}}), "missing key(s) pid"),
        (
            json.dumps({"token": ["a", "b"], "h": {"pos": "0"}, "t": {"pos": [1, 2]}, "pid": "P1"}),
            "'pos': [start, end)",
        ),
        (fewrel_line(["a", " ", "b"], (1, 2), (2, 3), "P1303", "x"), "only blank tokens"),
    ]
    for bad, message in cases:
        path = write_lines(tmp_path / "bad.jsonl", [good, good, bad])
        with pytest.raises(DataFileError, match=re.escape(message)) as caught:
            read_fewrel(path)
        assert caught.value.line == 3 and caught.value.path == str(path)


def test_missing_corpus_file_is_a_data_file_error(tmp_path):
    with pytest.raises(DataFileError, match="file not found"):
        read_crossre(tmp_path / "nope.jsonl")


# --- mapping, direction, NONE generation -------------------------------------------------------------


def test_crossre_labels_map_and_directions_are_normalised():
    performed = map_crossre_relation("artifact", "album", "musicalartist", "")
    assert (performed.relation, performed.reversed) == ("PERFORMED", True)
    member = map_crossre_relation("part-of", "musicalartist", "band", "in_band")
    assert (member.relation, member.reversed) == ("MEMBER_OF", False)
    assert map_crossre_relation("role", "musicalartist", "band", "in_band").relation == "MEMBER_OF"
    assert map_crossre_relation("general-affiliation", "band", "musicgenre", "").relation == "HAS_GENRE"
    assert map_crossre_relation("usage", "musicalartist", "musicalinstrument", "").relation == "INSTRUMENTS_PLAYED"
    assert map_crossre_relation("physical", "band", "country", "").relation == "ORIGIN"
    assert map_crossre_relation("win-defeat", "album", "award", "").relation == "WON_AWARD"
    assert map_crossre_relation("related-to", "band", "band", "influenced_by").relation == "ASSOCIATED_WITH"
    # Not modelled: ambiguous role, charting, venues, nominations, genre hierarchy.
    assert map_crossre_relation("role", "musicalartist", "band", "") is None
    assert map_crossre_relation("physical", "band", "country", "hit_in") is None
    assert map_crossre_relation("physical", "musicalartist", "location", "") is None
    assert map_crossre_relation("win-defeat", "musicalartist", "award", "nominated_for") is None
    assert map_crossre_relation("part-of", "musicgenre", "musicgenre", "") is None


def test_crossre_sentences_get_positives_excluded_pairs_and_none(tmp_path):
    raw = read_crossre(write_lines(tmp_path / "re.jsonl", [METALLICA, PUPPETS, DUET]))
    metallica, puppets, duet = crossre_to_annotated(raw)
    # Mentions: 0 Metallica (BAND), 1 thrash metal (GENRE), 2 United States (PLACE), offsets into the text.
    assert [metallica.text[m.start : m.end] for m in metallica.mentions] == [
        "Metallica",
        "thrash metal",
        "United States",
    ]
    assert [m.label for m in metallica.mentions] == ["BAND", "GENRE", "PLACE"]
    assert dict(metallica.relations) == {(0, 1): "HAS_GENRE", (0, 2): "ORIGIN"}
    assert (1, 2) in metallica.excluded and (2, 1) in metallica.excluded  # "named": dropped, not NONE
    assert metallica.labelled_pairs() == [(0, 1, "HAS_GENRE"), (0, 2, "ORIGIN")]  # GENRE→PLACE etc. are no candidates
    # artifact album → band becomes band PERFORMED album; the reverse pair is not a candidate at all.
    assert dict(puppets.relations) == {(1, 0): "PERFORMED"} and puppets.labelled_pairs() == [(1, 0, "PERFORMED")]
    # Symmetric relation: both orders; the magazine (no NER label) is not a mention.
    assert len(duet.mentions) == 2
    assert duet.labelled_pairs() == [(0, 1, "ASSOCIATED_WITH"), (1, 0, "ASSOCIATED_WITH")]


def test_none_examples_are_the_other_candidate_pairs():
    text = "John Lennon and Paul McCartney of the Beatles played guitar"
    mentions = (
        MentionSpan(0, 11, "ARTIST"),
        MentionSpan(16, 30, "ARTIST"),
        MentionSpan(38, 45, "BAND"),
        MentionSpan(53, 59, "INSTRUMENT"),
    )
    sentence = AnnotatedSentence(
        "s", "crossre", text, mentions, relations={(0, 2): "MEMBER_OF"}, excluded=frozenset({(1, 2)})
    )
    labelled = {(h, t): label for h, t, label in sentence.labelled_pairs()}
    assert labelled[(0, 2)] == "MEMBER_OF"
    assert (1, 2) not in labelled  # excluded: neither positive nor NONE
    assert labelled[(2, 0)] == labelled[(0, 1)] == labelled[(0, 3)] == labelled[(1, 3)] == NONE_RELATION
    assert (3, 0) not in labelled and (2, 3) not in labelled  # INSTRUMENT→ARTIST, BAND→INSTRUMENT fit no relation


def test_fewrel_direction_labels_and_reversed_none(tmp_path):
    lines = [
        fewrel_line(["Blue", "Sky", "was", "composed", "by", "Ann", "Lee", "."], (0, 2), (5, 7), "P86", "composer"),
        fewrel_line(["Nick", "Mason", "of", "Pink", "Floyd"], (0, 2), (3, 5), "P463", "member of"),
        fewrel_line(["Ann", "Lee", "joined", "the", "Royal", "Society"], (0, 2), (4, 6), "P463", "member of"),
        fewrel_line(["Thriller", "on", "Epic", "Records"], (0, 1), (2, 4), "P264", "record label"),
        fewrel_line(["x", "y"], (0, 1), (1, 2), "P999", "unknown"),
    ]
    instances = read_fewrel(write_lines(tmp_path / "f.jsonl", lines))
    gazetteer = {"thriller": "WORK"}
    composed, member, society = fewrel_to_annotated(instances, gazetteer=gazetteer)
    # P86 has the work as head: ours is composer → work.
    assert composed.relations == {(0, 1): "COMPOSED"}
    assert composed.text[composed.mentions[0].start : composed.mentions[0].end] == "Ann Lee"
    assert [m.label for m in composed.mentions] == ["ARTIST", "WORK"]
    assert composed.labelled_pairs() == [(0, 1, "COMPOSED")]  # WORK→ARTIST is no candidate
    # The reversed membership pair (BAND → ARTIST) is a candidate (ASSOCIATED_WITH), so it is a NONE example.
    assert member.labelled_pairs() == [(0, 1, "MEMBER_OF"), (1, 0, NONE_RELATION)]
    assert society.mentions[1].label == "ORG"
    assert crossner_gazetteer(read_crossre(write_lines(tmp_path / "c.jsonl", [PUPPETS])))["master of puppets"] == "WORK"


def test_detokenise_offsets():
    text, starts = detokenise(["AC/DC", "rocks", "."])
    assert text == "AC/DC rocks ." and starts == [0, 6, 12]


# --- splits ------------------------------------------------------------------------------------------


def test_group_split_keeps_identical_texts_together_and_is_seeded():
    sentences = [
        AnnotatedSentence(
            f"s{i}",
            "fewrel",
            f"Sentence number {i % 10}",
            (),
            relations={(0, 1): "VOICE_TYPE" if i % 2 else "COMPOSED"},
        )
        for i in range(40)
    ]
    kept, held = stratified_group_split(sentences, fraction=0.2, seed=5, stratum=lambda s: s.relations[(0, 1)])
    assert {text_key(s.text) for s in kept}.isdisjoint({text_key(s.text) for s in held})
    assert held and kept and len(kept) + len(held) == 40
    again = stratified_group_split(sentences, fraction=0.2, seed=5, stratum=lambda s: s.relations[(0, 1)])
    assert [s.id for s in again[1]] == [s.id for s in held]


def test_datasets_never_train_on_dev_sentences(data_dir):
    files = (f"{CROSSRE}/re_train.jsonl", f"{CROSSRE}/re_test_part_shared.jsonl")
    datasets = build_relation_datasets(
        tiny_config(crossre_train_files=files, crossre_dev_file=f"{CROSSRE}/re_dev.jsonl", held_out_files=()),
        data_dir=data_dir,
    )
    dev_texts = {text_key(s.text) for s in datasets.dev}
    train_texts = {text_key(s.text) for s in datasets.train + datasets.validation}
    assert dev_texts.isdisjoint(train_texts)
    # The shared test-part copy of the dev sentence was dropped from training.
    assert datasets.report["train_sentences_removed_as_also_in_dev"] == 1
    assert {s.source for s in datasets.dev} == {"crossre", "fewrel"}
    assert datasets.report["fewrel_sentences"]["dev"] > 0


# --- distant supervision -----------------------------------------------------------------------------


def _genre_sentence(gold: dict | None = None) -> AnnotatedSentence:
    text = "Metallica played thrash metal in Oslo"
    mentions = (MentionSpan(0, 9, "BAND"), MentionSpan(17, 29, "GENRE"), MentionSpan(33, 37, "PLACE"))
    return AnnotatedSentence("crossre:x", "crossre", text, mentions, relations=gold or {})


@pytest.mark.django_db
def test_distant_supervision_labels_none_pairs_from_graph_triples(sql_store):
    empty_result, empty_report = apply_distant_supervision([_genre_sentence()], sql_store)
    assert empty_report.added_total == 0 and empty_result[0].relations == {}
    sql_store.upsert_entities(
        [
            EntityRecord("lastfm:artist:1", "Artist", "Metallica"),
            EntityRecord("lastfm:tag:1", "Tag", "Thrash Metal"),
            EntityRecord("kgcn:9", "Place", "Oslo"),
        ]
    )
    sql_store.upsert_relations(
        [
            RelationRecord("lastfm:artist:1", "HAS_TAG", "lastfm:tag:1"),
            RelationRecord("lastfm:artist:1", "ORIGIN", "kgcn:9"),
        ]
    )
    [labelled], report = apply_distant_supervision([_genre_sentence()], sql_store)
    assert labelled.relations == {(0, 1): "HAS_GENRE", (0, 2): "ORIGIN"}
    assert labelled.distant == frozenset({(0, 1), (0, 2)}) and report.added_total == 2
    assert report.to_dict()["added_by_graph_relation"] == {"HAS_TAG": 1, "ORIGIN": 1}
    # A gold label always wins over the graph.
    [kept], report = apply_distant_supervision([_genre_sentence({(0, 2): "ORIGIN", (0, 1): "HAS_GENRE"})], sql_store)
    assert kept.distant == frozenset() and report.confirmed_gold == 2 and report.added_total == 0


def test_training_run_reports_distant_supervision_from_the_store(data_dir, sql_store):
    sql_store.upsert_entities(
        [EntityRecord("lastfm:artist:5", "Artist", "Metallica"), EntityRecord("lastfm:tag:5", "Tag", "thrash metal")]
    )
    sql_store.upsert_relations([RelationRecord("lastfm:artist:5", "HAS_TAG", "lastfm:tag:5")])
    run = run_relation_training(
        tiny_config(epochs=1, distant_supervision=True), data_dir=data_dir, store=sql_store, save=False, progress=False
    )
    report = run.datasets.report["distant_supervision"]
    assert report["enabled"] is True and report["gold_pairs_confirmed_by_graph"] == 1 and report["added"] == 0
    assert run.artifact is None


# --- features ----------------------------------------------------------------------------------------


def test_markers_wrap_the_mentions_and_windows_stay_short():
    text = "Yesterday John Lennon of the Beatles played guitar with Yoko Ono in New York City"
    mentions = [MentionSpan(10, 21, "ARTIST"), MentionSpan(29, 36, "BAND"), MentionSpan(68, 81, "PLACE")]
    tokenised = tokenise(text, mentions)
    marked = mark_pair(tokenised, 1, 0, "BAND", "ARTIST")
    assert marked.tokens[:10] == (
        "yesterday",
        "<T:ARTIST>",
        "john",
        "lennon",
        "</T>",
        "of",
        "the",
        "<H:BAND>",
        "beatles",
        "</H>",
    )
    assert (
        marked.tokens[marked.head_marker_index] == "<H:BAND>"
        and marked.tokens[marked.tail_marker_index] == "<T:ARTIST>"
    )
    short = mark_pair(tokenised, 0, 2, "ARTIST", "PLACE", max_tokens=12)
    assert len(short.tokens) <= 12 and short.tokens[0] == "<H:ARTIST>" and short.tokens[-1] == "</T>"
    assert mark_pair(tokenised, 0, 1, "ARTIST", "BAND", context_tokens=0).tokens[0] == "<H:ARTIST>"
    with pytest.raises(DocumentInputError, match="covers no token"):
        tokenise("a  b", [MentionSpan(1, 2, "ARTIST")])


def test_relation_scores():
    scores = relation_scores(["COMPOSED", "NONE", "PERFORMED", "NONE"], ["COMPOSED", "COMPOSED", "NONE", "NONE"])
    composed = scores["per_relation"]["COMPOSED"]
    assert (composed["precision"], composed["recall"], composed["support"]) == (0.5, 1.0, 1)
    assert scores["per_relation"]["PERFORMED"]["f1"] == 0.0
    assert scores["macro_over"] == ["COMPOSED", "PERFORMED"] and scores["macro_f1"] == pytest.approx((2 / 3) / 2)


def test_config_rejects_bad_values():
    with pytest.raises(ConfigurationError, match="epochs"):
        RelationTrainingConfig(epochs=0)
    with pytest.raises(ConfigurationError, match="dropout"):
        RelationTrainingConfig(dropout=1.5)
    with pytest.raises(ConfigurationError, match="Unknown relation config key"):
        RelationTrainingConfig.from_dict({"epochs": 2, "colour": "red"})
    config = tiny_config()
    assert RelationTrainingConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


# --- training, artifact, inference -------------------------------------------------------------------


def test_tiny_training_saves_reloads_and_predicts_with_correct_indices(data_dir, settings):
    separate_dev = dict(
        crossre_train_files=(f"{CROSSRE}/re_train.jsonl",),
        crossre_dev_file=f"{CROSSRE}/re_dev.jsonl",
        held_out_files=(),
    )
    run = run_relation_training(tiny_config(epochs=3, **separate_dev), data_dir=data_dir, progress=False)
    assert run.artifact is not None and run.artifact.parent == Path(settings.LEITMOTIF_ARTIFACTS_DIR) / "relations"
    assert {"BiLSTM", "LogReg baseline"} == set(run.dev_by_source["crossre"]) == set(run.dev_by_source["fewrel"])
    assert run.bilstm.temperature > 0 and 1 <= run.bilstm.best_epoch <= run.bilstm.epochs_trained <= 3
    extractor = load_relation_extractor()  # the newest artifact under the (test) artifacts folder
    assert extractor.version == run.artifact.name and extractor.path == run.artifact
    assert load_relation_extractor(run.artifact).version == extractor.version

    sentence = "Zoe Hart plays the cello , says Metallica ."
    # Listed out of text order on purpose: INSTRUMENT first, then ARTIST, then BAND.
    mentions = [MentionSpan(19, 24, "INSTRUMENT"), MentionSpan(0, 8, "ARTIST"), MentionSpan(32, 41, "BAND")]
    predictions = extractor.predict(sentence, mentions)
    assert all(isinstance(p, RelationPrediction) for p in predictions)
    assert any((p.head, p.tail, p.relation) == (1, 0, "INSTRUMENTS_PLAYED") for p in predictions)
    allowed_pairs = set(candidate_pairs(mentions))
    for p in predictions:
        assert (p.head, p.tail) in allowed_pairs
        assert RELATIONS_BY_NAME[p.relation].allows(mentions[p.head].label, mentions[p.tail].label)
        assert 0.0 < p.confidence <= 1.0
    assert [p.confidence for p in predictions] == sorted((p.confidence for p in predictions), reverse=True)
    # predict_many: same answers, in input order, whatever the batch size.
    many = extractor.predict_many(
        [(sentence, mentions), ("No mentions here .", []), (sentence, mentions)], batch_size=1
    )
    assert many[0] == predictions and many[1] == [] and many[2] == predictions


def test_prediction_inputs_are_validated(data_dir):
    run = run_relation_training(tiny_config(epochs=1), data_dir=data_dir, progress=False)
    extractor = load_relation_extractor(run.artifact)
    with pytest.raises(DocumentInputError, match="label 'SINGER'"):
        extractor.predict("Ann sings", [MentionSpan(0, 3, "SINGER")])
    with pytest.raises(DocumentInputError, match="0 <= start < end <= 9"):
        extractor.predict("Ann sings", [MentionSpan(4, 20, "ARTIST")])
    with pytest.raises(DocumentInputError, match="only whitespace"):
        extractor.predict("Ann  sings", [MentionSpan(3, 4, "ARTIST")])
    with pytest.raises(DocumentInputError, match="list of MentionSpan"):
        extractor.predict("Ann sings", MentionSpan(0, 3, "ARTIST"))
    with pytest.raises(DocumentInputError, match="batch_size"):
        extractor.predict_many([], batch_size=0)
    assert extractor.predict("Ann sings", [MentionSpan(0, 3, "ARTIST")]) == []


def test_missing_or_damaged_artifact_is_a_model_artifact_error(data_dir, tmp_path):
    with pytest.raises(ModelArtifactError, match="python manage.py train_relations") as caught:
        load_relation_extractor()
    assert caught.value.code == "E031"
    with pytest.raises(ModelArtifactError, match="does not exist"):
        load_relation_extractor(tmp_path / "nowhere")
    run = run_relation_training(tiny_config(epochs=1), data_dir=data_dir, output_dir=tmp_path / "out", progress=False)
    assert list_relation_artifacts(tmp_path / "out") == [run.artifact]
    (run.artifact / VOCAB_FILE).write_text('["<pad>"]\n', encoding="utf-8")
    with pytest.raises(ModelArtifactError, match="checksum"):
        load_relation_extractor(run.artifact)


def test_same_seed_gives_the_same_model_and_predictions(data_dir):
    datasets = build_relation_datasets(tiny_config(), data_dir=data_dir)
    first = train_bilstm(datasets.train, datasets.validation, tiny_config(), progress=False)
    second = train_bilstm(datasets.train, datasets.validation, tiny_config(), progress=False)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key
    assert first.history == second.history and first.temperature == second.temperature
    other = train_bilstm(datasets.train, datasets.validation, tiny_config(seed=4), progress=False)
    assert any(not torch.equal(v, other.model.state_dict()[k]) for k, v in first.model.state_dict().items())


def test_baseline_trains_and_scores_the_same_pairs(data_dir):
    datasets = build_relation_datasets(tiny_config(), data_dir=data_dir)
    baseline = LogisticRegressionBaseline.train(datasets.train, seed=1)
    gold, predicted = baseline.predict(datasets.dev)
    assert len(gold) == len(predicted) == sum(len(s.labelled_pairs()) for s in datasets.dev)
    assert set(predicted) <= set(RELATION_LABELS)
    scores = baseline.evaluate(datasets.dev)
    assert 0.0 <= scores["macro_f1"] <= 1.0 and scores["pairs"] == len(gold)


# --- command -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        ({"epochs": "0"}, "--epochs must be an integer of at least 1"),
        ({"epochs": "many"}, "--epochs"),
        ({"seed": "-1"}, "--seed"),
    ],
)
def test_command_rejects_bad_options_in_one_line(options, message):
    with pytest.raises(CommandError, match=message) as caught:
        call_command("train_relations", "--no-distant", **options)
    assert "\n" not in str(caught.value) and "[E001]" in str(caught.value)


def test_command_rejects_a_missing_data_folder(tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("train_relations", "--no-distant", "--data-dir", str(tmp_path / "missing"))


def test_command_trains_prints_the_dev_table_and_saves(data_dir, tmp_path):
    out = StringIO()
    call_command(
        "train_relations",
        "--epochs",
        "1",
        "--seed",
        "2",
        "--no-distant",
        "--no-progress",
        "--data-dir",
        str(data_dir),
        "--output",
        str(tmp_path / "versions"),
        stdout=out,
    )
    text = out.getvalue()
    assert "BiLSTM" in text and "LogReg baseline" in text and "macro F1 (no NONE)" in text
    [artifact] = list_relation_artifacts(tmp_path / "versions")
    assert f"Saved the artifact to {artifact}" in text
    config = json.loads((artifact / "config.json").read_text())
    assert config["seed"] == 2 and config["epochs"] == 1 and config["distant_supervision"] is False
    metrics = json.loads((artifact / "metrics.json").read_text())
    assert set(metrics["dev_by_source"]) == {"crossre", "fewrel"}
    assert set(metrics["dev_by_source"]["crossre"]) == {"BiLSTM", "LogReg baseline"}
    assert metrics["labels"] == list(RELATION_LABELS)
    assert "Dev split, crossre only" in text and "Dev split, fewrel only" in text
    assert "Confidence calibration: isotonic" in text
