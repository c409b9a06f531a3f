"""The ingestion pipeline end to end with real (tiny) trained NER and relation models, on both graph
backends: provenance, auto-accept vs review queue, idempotency, rollback, the command and the API."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from api.services import api_client_create
from core.errors import ConfigurationError
from ingestion.documents import text_document
from ingestion.models import ExtractedFact, ExtractedMention, IngestionJob, SourceDocument
from ingestion.ner import load_ner_model
from ingestion.pipeline import IngestionPipeline, IngestionSummary
from kg.models import CurationEvent
from kg.stores.base import EntityRecord
from tests.helpers.ingestion_models import train_tiny_ingestion_models

#: The neo4j half needs the database too: documents, mentions and facts live there on every backend.
pytestmark = pytest.mark.django_db

DOCUMENT = "Alice Smith plays the cello .\nBob Jones plays the guitar ."


@pytest.fixture(scope="module")
def trained_models(tmp_path_factory):
    """A tiny NER model that knows "<First Last> plays the <instrument> ." and a tiny relation model
    trained on the relation tests' corpus (which teaches INSTRUMENTS_PLAYED from the same pattern)."""
    from ingestion.relations import load_relation_extractor

    paths = train_tiny_ingestion_models(tmp_path_factory.mktemp("ingestion-models"))
    return {
        "ner": load_ner_model(paths["ner"]),
        "relations": load_relation_extractor(paths["relations"]),
        "ner_path": paths["ner"],
        "re_path": paths["relations"],
    }


@pytest.fixture
def graph(graph_store):
    graph_store.upsert_entities(
        [
            EntityRecord("lastfm:artist:1", "Artist", "Alice Smith"),
            EntityRecord("leitmotif:instrument:cello", "Instrument", "Cello"),
            EntityRecord("leitmotif:instrument:guitar", "Instrument", "Guitar"),
        ]
    )
    return graph_store


def pipeline(models, store, **options) -> IngestionPipeline:
    return IngestionPipeline(store=store, ner=models["ner"], relations=models["relations"], **options)


def test_facts_enter_the_graph_with_provenance_and_new_entities_are_proposed(trained_models, graph):
    summary = pipeline(trained_models, graph, accept_confidence=0.0, min_confidence=0.0).ingest(
        [text_document(DOCUMENT, name="players.txt")]
    )
    assert (summary.documents, summary.failed, summary.sentences) == (1, 0, 2), summary.problems
    mentions = {m.text: m for m in ExtractedMention.objects.all()}
    assert mentions["Alice Smith"].entity_id == "lastfm:artist:1" and mentions["Alice Smith"].link_method == "exact"
    assert mentions["cello"].entity_id == "leitmotif:instrument:cello"
    bob = mentions["Bob Jones"]
    assert bob.link_method == "new" and bob.entity_id == "leitmotif:extracted:musicalartist:bob-jones"
    assert summary.linked == 3 and summary.new_entities == 1

    fact = ExtractedFact.objects.get(head__text="Alice Smith")
    assert fact.relation_type == "INSTRUMENTS_PLAYED" and fact.tail_entity_id == "leitmotif:instrument:cello"
    assert fact.status == "accepted" and fact.sentence_text == "Alice Smith plays the cello ."
    assert fact.model_versions == {
        "ner": trained_models["ner"].version,
        "relations": trained_models["relations"].version,
        "linker": "leitmotif.linker.v1",
    }
    relation = graph.get_relation("lastfm:artist:1", "INSTRUMENTS_PLAYED", "leitmotif:instrument:cello")
    assert relation is not None and relation.source.startswith("ingestion:")
    assert relation.properties["document"] == "players.txt" and relation.properties["head_span"] == [0, 11]
    assert (
        relation.properties["fact_id"] == fact.pk
        and relation.properties["models"]["ner"] == trained_models["ner"].version
    )
    proposed = graph.get_entity(bob.entity_id)
    assert (
        proposed is not None and proposed.type == "MusicalArtist" and proposed.properties["proposed_by"] == "ingestion"
    )
    assert CurationEvent.objects.filter(action="fact.accept").count() == ExtractedFact.objects.count()


def test_reingesting_the_same_text_changes_nothing(trained_models, graph):
    first = pipeline(trained_models, graph, accept_confidence=0.0, min_confidence=0.0).ingest(
        [text_document(DOCUMENT, name="a.txt")]
    )
    stats = graph.stats()
    rows = (
        SourceDocument.objects.count(),
        ExtractedMention.objects.count(),
        ExtractedFact.objects.count(),
        CurationEvent.objects.count(),
    )
    again = pipeline(trained_models, graph, accept_confidence=0.0, min_confidence=0.0).ingest(
        [text_document(DOCUMENT + "\n", name="copy-of-a.txt")]  # same normalised text, other name
    )
    assert first.documents == 1 and (again.documents, again.unchanged) == (0, 1)
    assert graph.stats() == stats
    assert rows == (
        SourceDocument.objects.count(),
        ExtractedMention.objects.count(),
        ExtractedFact.objects.count(),
        CurationEvent.objects.count(),
    )


def test_low_confidence_facts_wait_for_review_and_touch_nothing_in_the_graph(trained_models, graph):
    before = graph.stats()
    summary = pipeline(trained_models, graph, accept_confidence=1.0, min_confidence=0.0).ingest(
        [text_document(DOCUMENT, name="q.txt")]
    )
    assert summary.triples_accepted == 0 and summary.triples_queued == ExtractedFact.objects.count() >= 1
    assert set(ExtractedFact.objects.values_list("status", flat=True)) == {"pending"}
    assert graph.stats() == before  # not even the proposed entity is written before a curator approves


def test_a_failing_graph_write_leaves_no_partial_document(trained_models, graph, monkeypatch):
    before = graph.stats()

    def broken(*args, **kwargs):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(graph, "upsert_relations", broken)
    summary = pipeline(trained_models, graph, accept_confidence=0.0, min_confidence=0.0).ingest(
        [text_document(DOCUMENT, name="x.txt")]
    )
    assert summary.failed == 1 and "connection lost" in summary.problems[0]
    assert (
        not SourceDocument.objects.exists()
        and not ExtractedFact.objects.exists()
        and not ExtractedMention.objects.exists()
    )
    assert graph.stats() == before  # the proposed entity written before the failure was removed again
    monkeypatch.undo()
    retry = pipeline(trained_models, graph, accept_confidence=0.0, min_confidence=0.0).ingest(
        [text_document(DOCUMENT, name="x.txt")]
    )
    assert retry.documents == 1 and retry.failed == 0


@pytest.mark.django_db
def test_inconsistent_confidence_settings_are_refused(trained_models, sql_store):
    with pytest.raises(ConfigurationError, match="auto-accept"):
        pipeline(trained_models, sql_store, accept_confidence=0.3, min_confidence=0.5)


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def installed_models(trained_models, settings):
    """The tiny artifacts copied where load_pipeline looks (this test's artifacts folder)."""
    root = Path(settings.LEITMOTIF_ARTIFACTS_DIR)
    shutil.copytree(trained_models["ner_path"], root / "ner" / trained_models["ner_path"].name)
    shutil.copytree(trained_models["re_path"], root / "relations" / trained_models["re_path"].name)
    return trained_models


@pytest.mark.django_db
def test_ingest_text_reports_bad_files_and_ingests_the_good_ones(installed_models, sql_store, tmp_path, capsys):
    sql_store.upsert_entities([EntityRecord("leitmotif:instrument:cello", "Instrument", "Cello")])
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text(DOCUMENT)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02PNG")
    (folder / "latin.md").write_bytes("Dvořák".encode("cp1250"))
    (folder / "bad.jsonl").write_text('{"text": "Alice Smith plays the cello ."}\n{oops\n')
    with pytest.raises(CommandError) as caught:
        call_command("ingest_text", str(folder), "--no-progress", "--accept-confidence", "0", "--min-confidence", "0")
    message = str(caught.value)
    for name, fragment in [
        ("empty.txt", "is empty"),
        ("binary.txt", "binary"),
        ("latin.md", "not UTF-8"),
        ("bad.jsonl:2", "not valid JSON"),
    ]:
        assert name in message and fragment in message
    out = capsys.readouterr().out
    assert "Documents: 1 ingested" in out and "4 failed" in out
    assert SourceDocument.objects.get().name.endswith("good.txt")
    # Re-running the good file alone is a no-op and succeeds.
    call_command("ingest_text", str(folder / "good.txt"), "--no-progress")
    assert "0 ingested, 1 unchanged" in capsys.readouterr().out


@pytest.mark.django_db
def test_ingest_text_without_trained_models_says_what_to_run(sql_store, tmp_path):
    (tmp_path / "a.txt").write_text(DOCUMENT)
    with pytest.raises(CommandError, match="train_ner"):
        call_command("ingest_text", str(tmp_path / "a.txt"), "--no-progress")


# --- the API -------------------------------------------------------------------------------------


@pytest.fixture
def api(installed_models, sql_store, settings):
    settings.INGESTION_JOB_RUNNER = "inline"
    settings.KG_BACKEND = "sql"
    sql_store.upsert_entities([EntityRecord("leitmotif:instrument:cello", "Instrument", "Cello")])
    ingester = api_client_create(name="ingester", read_only=False, ingest=True)
    reader = api_client_create(name="reporting", read_only=True)
    learner = get_user_model().objects.create_user(username="lea", password="pw-12345678")
    clients = {}
    for name, token in [("ingester", ingester.token), ("reader", reader.token)]:
        clients[name] = APIClient()
        clients[name].credentials(HTTP_AUTHORIZATION=f"Token {token}")
    clients["learner"] = APIClient()
    clients["learner"].force_authenticate(learner)
    return clients


@pytest.mark.django_db
def test_api_queues_a_job_and_reports_its_result(api):
    response = api["ingester"].post(
        "/api/v1/ingestion/documents", {"documents": [{"name": "web/players", "text": DOCUMENT}]}, format="json"
    )
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["status"] == "succeeded" and job["status_url"].endswith(f"/api/v1/ingestion/jobs/{job['id']}/")
    status = api["ingester"].get(f"/api/v1/ingestion/jobs/{job['id']}/").json()
    assert status["summary"]["documents"] == 1 and status["summary"]["sentences"] == 2
    assert status["documents"][0]["name"] == "web/players"
    assert [j["id"] for j in api["ingester"].get("/api/v1/ingestion/jobs/").json()["results"]] == [job["id"]]
    upload = api["ingester"].post(
        "/api/v1/ingestion/documents/",
        {"files": [_upload("notes.md", b"# Notes\nBob Jones plays the guitar .")]},
        format="multipart",
    )
    assert upload.status_code == 202 and upload.json()["documents"][0]["title"] == "Notes"


def _upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload, fragment",
    [
        ({}, "documents"),
        ({"documents": []}, "documents"),
        ({"documents": [{"name": "a", "text": "   "}]}, "empty"),
        ({"documents": [{"name": "a", "text": "x", "media_type": "application/pdf"}]}, "media_type"),
        ({"documents": [{"text": "Alice Smith plays the cello ."}]}, "name"),
    ],
)
def test_api_rejects_malformed_submissions(api, payload, fragment):
    response = api["ingester"].post("/api/v1/ingestion/documents", payload, format="json")
    assert response.status_code == 400 and fragment in response.json()["error"]["message"]
    assert not IngestionJob.objects.exists()


@pytest.mark.django_db
def test_api_rejects_bad_uploads_and_huge_documents(api, settings):
    settings.INGESTION_MAX_DOCUMENT_BYTES = 100
    binary = api["ingester"].post(
        "/api/v1/ingestion/documents", {"files": [_upload("x.txt", b"\x00\x01")]}, format="multipart"
    )
    assert binary.status_code == 400 and "binary" in binary.json()["error"]["message"]
    huge = api["ingester"].post(
        "/api/v1/ingestion/documents", {"documents": [{"name": "a", "text": "x" * 200}]}, format="json"
    )
    assert huge.status_code == 400 and "limit" in huge.json()["error"]["message"]


@pytest.mark.django_db
def test_api_permissions_and_unknown_jobs(api):
    payload = {"documents": [{"name": "a", "text": DOCUMENT}]}
    assert api["learner"].post("/api/v1/ingestion/documents", payload, format="json").status_code == 403
    refused = api["reader"].post("/api/v1/ingestion/documents", payload, format="json")
    assert refused.status_code == 403 and "read-only" in refused.json()["error"]["message"]
    assert APIClient().post("/api/v1/ingestion/documents", payload, format="json").status_code in {401, 403}
    job = api["ingester"].post("/api/v1/ingestion/documents", payload, format="json").json()
    assert api["ingester"].get("/api/v1/ingestion/jobs/not-a-uuid/").status_code == 404
    assert api["ingester"].get("/api/v1/ingestion/jobs/00000000-0000-0000-0000-000000000000/").status_code == 404
    other = api_client_create(name="other-ingester", read_only=False, ingest=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {other.token}")
    assert client.get(f"/api/v1/ingestion/jobs/{job['id']}/").status_code == 404  # not theirs


@pytest.mark.django_db
def test_a_job_whose_models_are_missing_fails_with_the_reason(sql_store, settings):
    from ingestion.jobs import submit_job

    settings.INGESTION_JOB_RUNNER = "inline"
    job = submit_job([text_document(DOCUMENT, name="a")], origin="cli")
    assert job.status == "failed" and "train_ner" in job.error and job.payload == []


def test_summary_dictionary_is_json_ready():
    data = IngestionSummary().to_dict()
    assert data["documents"] == 0 and set(data["seconds"]) == {"ner", "linking", "relations", "writes"}
