"""The whole product, end to end, on each graph backend (``KG_BACKEND=sql`` and ``KG_BACKEND=neo4j``).

One learner-and-curator story runs through the real entry points (management commands, the REST API through
DRF's ``APIClient``, the pages and the admin through Django's test ``Client``), once per backend:

1. **load** — ``load_lastfm`` on the tiny Last.FM fixture, then on a 12-listener Last.FM folder in the real
   formats that a recommender can learn from (its ids overlap the fixture's: a newer dump loaded in place),
   ``load_courses`` and ``load_curriculum``. On Neo4j the same commands also fill the sql store, after the
   fixture and again at the end, and both graphs must hold the same entities, relations, sources, confidences
   and properties;
2. **train** — a tiny joint recommender on the loaded catalog and graph, published as the serving model; later
   the nightly ``retrain_recommender`` command retrains on the learner's events and publishes again;
3. **learn** — a learner signs up, searches and picks interests at onboarding, plays an artist, reads
   ``/for-you/`` and ``/api/v1/me/recommendations/`` (every edge an explanation cites exists in the backend's
   graph; sql and Neo4j give the same lists for the same data and seed), asks in plain English
   (``/api/v1/me/ask/`` and ``/ask/``: the genre, level, instrument and a named artist are understood), searches,
   and follows learning paths to a curriculum concept and to an instrument (``/learn/…`` and
   ``/api/v1/learning/path/``);
4. **ingest** — a curator posts a short document to ``/api/v1/ingestion/documents`` (inline job runner, tiny
   trained NER and relation models); the job succeeds, its facts wait in the review queue, the graph is untouched;
5. **curate** — in the admin, the curator approves one fact (the new entity and its relation enter the graph) and
   merges that entity into the artist the learner played (relation moved, alias kept, fact re-pointed);
   recommendations afterwards still cite only edges the graph has;
6. **pages** — the home page, ``/for-you/``, the artist page (which now draws the curated relation), a course
   page and ``/learn/`` answer 200.

The Neo4j half needs the test server of ``tests/conftest.py`` (``admin_store`` points ``KG_BACKEND`` and
``NEO4J_*`` at it). Each step's time is recorded and printed (``-s``) so the per-backend cost is visible.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.models import Artist, Course, Interest, Tag
from ingestion.models import ExtractedFact, IngestionJob
from kg.models import CurationEvent
from kg.schema import concept_entity_id
from kg.stores import get_store
from tests.helpers.ingestion_models import install_ingestion_models, train_tiny_ingestion_models
from tests.helpers.recommender_api import token_client
from tests.helpers.recommender_data import TINY, write_tiny_lastfm

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

REPO = Path(__file__).resolve().parent.parent
LASTFM_FIXTURE = REPO / "tests" / "ingestion" / "fixtures" / "lastfm"
COURSES_CSV = REPO / "tests" / "ingestion" / "fixtures" / "courses" / "courses.csv"
PASSWORD = "a-long-learner-pass-42"
DOCUMENT = "Alice Smith plays the guitar .\nBob Jones plays the drums ."
GOAL = concept_entity_id("seventh-chords")

#: Seconds per step and graph counts per backend, filled as the parametrised test runs (printed with ``-s``).
TIMINGS: dict[str, dict[str, object]] = {}
#: Each backend's recommendation lists (entity ids and explanation bases) per step, compared once both have run.
RANKINGS: dict[str, dict[str, dict[str, list]]] = {}


@pytest.fixture(scope="module")
def ingestion_models(tmp_path_factory):
    return train_tiny_ingestion_models(tmp_path_factory.mktemp("e2e-ingestion-models"))


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Serving's graph snapshot, the model holder, the curriculum graph and page caches are per process."""
    _forget_process_caches()
    yield
    _forget_process_caches()


def _forget_process_caches() -> None:
    from curriculum.graph import curriculum_cache_clear
    from recommender.serving.model_holder import model_holder
    from recommender.serving.selectors import snapshot_forget

    cache.clear()
    snapshot_forget()
    curriculum_cache_clear()
    model_holder().reset()


class Clock:
    def __init__(self, backend: str) -> None:
        self.times: dict[str, object] = TIMINGS.setdefault(backend, {})
        self.started = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.times[step] = round(now - self.started, 2)
        self.started = now


def _stats(store) -> tuple[dict, dict]:
    stats = store.stats()
    return dict(stats.entities_by_type), dict(stats.relations_by_type)


def _entity_rows(store) -> list[tuple]:
    return [(e.id, e.type, e.name, sorted(e.aliases), e.properties) for e in store.iter_entities()]


def _relation_rows(store) -> list[tuple]:
    rows = []
    for key in sorted(store.iter_triples()):
        relation = store.get_relation(*key)
        rows.append((key, relation.source, relation.confidence, relation.properties))
    return rows


def _load_lastfm_fixture(*, backend: str) -> None:
    call_command("load_lastfm", data_dir=str(LASTFM_FIXTURE), backend=backend, no_progress=True)


def _load_the_rest(data_dir: Path, *, backend: str) -> None:
    """The trainable Last.FM folder over the fixture (artist, user and tag ids overlap: a newer dump loaded in place),
    then the courses and the curriculum."""
    quiet = {"backend": backend, "no_progress": True}
    call_command("load_lastfm", data_dir=str(data_dir), **quiet)
    call_command("load_courses", file=str(COURSES_CSV), **quiet)
    call_command("load_curriculum", **quiet)


def _assert_same_graph(store) -> None:
    """The sql store, filled by the same commands, holds exactly what ``store`` (Neo4j) holds."""
    with get_store("sql") as sql_store:
        assert _stats(sql_store) == _stats(store)
        assert sorted(sql_store.iter_triples()) == sorted(store.iter_triples())
        assert _entity_rows(sql_store) == _entity_rows(store)
        assert _relation_rows(sql_store) == _relation_rows(store)


def _train_and_publish(store, artifacts_dir: Path) -> None:
    """A tiny joint model on the loaded catalog and graph, published as serving's model (no sentence encoder)."""
    import torch

    from recommender.data import InteractionDataset
    from recommender.models.config import JointConfig
    from recommender.serving.model_holder import model_publish
    from recommender.training import recommender_train

    torch.set_num_threads(1)
    dataset = InteractionDataset.from_catalog(store=store)
    trained = recommender_train(
        dataset=dataset,
        config=JointConfig(**TINY).with_overrides(use_content=False),
        seed=0,
        output_dir=artifacts_dir,
    )
    model_publish(trained.path, directory=artifacts_dir)  # serving picks it up from the pointer, as in production


def _same_lists_on_both_backends(backend: str, step: str, lists: dict[str, list]) -> None:
    """Same data, same seed: once both backends reached ``step`` in this session, their lists must be equal."""
    RANKINGS.setdefault(backend, {})[step] = lists
    others = [b for b in RANKINGS if b != backend and step in RANKINGS[b]]
    for other in others:
        assert RANKINGS[other][step] == lists, (step, other, RANKINGS[other][step], backend, lists)


def _cited_edges(results: list[dict]) -> list[tuple[str, str, str]]:
    return [
        (edge["head"], edge["type"], edge["tail"])
        for result in results
        for path in result["explanation"]["paths"]
        for edge in path["edges"]
    ]


def test_the_whole_product_on_each_graph_backend(admin_store, settings, tmp_path, ingestion_models, curator):
    backend = settings.KG_BACKEND
    clock = Clock(backend)
    store = admin_store
    artifacts = Path(settings.LEITMOTIF_ARTIFACTS_DIR)

    # --- 1. load ---------------------------------------------------------------------------------------
    _load_lastfm_fixture(backend=backend)
    fixture_entities, fixture_relations = _stats(store)
    assert fixture_entities["Artist"] == 5 and fixture_relations["HAS_TAG"] >= 1, (fixture_entities, fixture_relations)
    if backend == "neo4j":  # the same command into the sql store: both backends hold the same graph
        _load_lastfm_fixture(backend="sql")
        _assert_same_graph(store)
    data_dir = write_tiny_lastfm(tmp_path / "lastfm")
    _load_the_rest(data_dir, backend=backend)
    entities_by_type, relations_by_type = _stats(store)
    TIMINGS[backend]["graph"] = {
        "entities": sum(entities_by_type.values()),
        "relations": sum(relations_by_type.values()),
    }
    assert {"Artist", "Tag", "Course", "Instrument", "Level", "Concept"} <= set(entities_by_type), entities_by_type
    assert {"HAS_TAG", "TEACHES_INSTRUMENT", "HAS_LEVEL", "PREREQUISITE_OF"} <= set(relations_by_type)
    assert entities_by_type["Artist"] == Artist.objects.count() == 8 and Course.objects.count() == 7
    if backend == "neo4j":
        _load_the_rest(data_dir, backend="sql")
        _assert_same_graph(store)
    clock.lap("load")

    # --- 2. train --------------------------------------------------------------------------------------
    _train_and_publish(store, artifacts / "recommender")
    clock.lap("train")

    # --- 3. a learner: sign up, interests, recommendations, ask, learning path --------------------------
    learner = Client()
    signed_up = learner.post(reverse("learn:signup"), {"username": "ada", "password1": PASSWORD, "password2": PASSWORD})
    assert signed_up.status_code == 302 and signed_up.url == reverse("learn:onboarding")
    assert learner.get(reverse("learn:onboarding")).status_code == 200
    found = learner.get(reverse("learn:onboarding"), {"q": "band"})
    assert found.status_code == 200 and 'value="lastfm:artist:3"' in found.content.decode()
    band = Artist.objects.get(name="Band 1")
    picks = [Tag.objects.get(name="rock").entity_id, "leitmotif:instrument:guitar", band.entity_id]
    onboarded = learner.post(reverse("learn:onboarding"), {"entity_id": picks})
    assert onboarded.status_code == 302 and onboarded.url == reverse("learn:for_you"), onboarded.content[:2000]
    user = get_user_model().objects.get(username="ada")
    assert sorted(Interest.objects.filter(listener__user=user).values_list("entity_id", flat=True)) == sorted(picks)

    api = token_client(user)
    played = api.post("/api/v1/me/interactions/", {"kind": "listen", "artist": band.pk}, format="json")
    assert played.status_code == 201, played.content
    me = api.get("/api/v1/me/")
    assert me.status_code == 200, me.content

    for_you = learner.get(reverse("learn:for_you"))
    assert for_you.status_code == 200, for_you.content[:2000]
    assert for_you.context["music"] and for_you.context["courses"]

    edges, ranked = [], {}
    for kind in ("music", "course"):
        response = api.get(f"/api/v1/me/recommendations/?kind={kind}&k=5")
        assert response.status_code == 200, response.content
        results = response.json()["results"]
        assert results and all(r["explanation"]["sentence"] for r in results)
        edges += _cited_edges(results)
        ranked[kind] = [(r["entity_id"], r["explanation"]["basis"]) for r in results]
    assert edges, "at least one recommendation should be explained by graph paths"
    _same_lists_on_both_backends(backend, "before curation", ranked)
    missing = [edge for edge in edges if store.get_relation(*edge) is None]
    assert not missing, f"explanations cite edges that are not in the {backend} graph: {missing}"

    asked = api.get("/api/v1/me/ask/", {"q": "rock for a beginner guitarist"})
    assert asked.status_code == 200, asked.content
    understood = asked.json()["understood"]
    assert understood["level"] == "Beginner", understood
    values = {item["role"]: item["value"] for item in understood["understood"]}
    assert values == {
        "genre": Tag.objects.get(name="rock").entity_id,
        "level": "Beginner",
        "instrument": "leitmotif:instrument:guitar",
    }, understood
    assert store.get_entity(values["genre"]) is not None and store.get_entity(values["instrument"]) is not None
    assert learner.get(reverse("learn:ask"), {"q": "rock for a beginner guitarist"}).status_code == 200
    like = api.get("/api/v1/me/ask/", {"q": "something like Band 6"}).json()["understood"]["understood"]
    assert "lastfm:artist:6" in {item["value"] for item in like}, like
    searched = learner.get(reverse("learn:search"), {"q": "keyboard"})
    assert searched.status_code == 200 and "Keyboard Basics" in searched.content.decode()

    path = api.get("/api/v1/learning/path/", {"goal": GOAL})
    assert path.status_code == 200, path.content
    steps = path.json()["steps"]
    assert steps and steps[-1]["concept"]["id"] == GOAL
    by_instrument = api.get("/api/v1/learning/path/", {"goal": "leitmotif:instrument:guitar"})
    assert by_instrument.status_code == 200 and by_instrument.json()["steps"], by_instrument.content
    for url in ("/learn/", f"/learn/path/?goal={GOAL}", "/learn/goals/"):
        page = learner.get(url)
        assert page.status_code == 200, (url, page.content[:1000])
    clock.lap("learn")

    # --- the nightly retrain: the product's command, on the catalog with the learner's events -----------
    from recommender.serving.model_holder import model_holder, published_artifact

    first_model = published_artifact()
    call_command("retrain_recommender", "--no-content", "--epochs", "1", "--backend", backend, "--no-progress")
    retrained = published_artifact()
    assert retrained is not None and retrained != first_model
    assert learner.get(reverse("learn:for_you")).status_code == 200
    assert model_holder().current().path == retrained.resolve()  # serving follows the published pointer
    clock.lap("retrain")

    # --- 4. ingest a document as a curator ---------------------------------------------------------------
    before_ingestion = _stats(store)
    settings.INGESTION_JOB_RUNNER = "inline"
    settings.INGESTION_AUTO_ACCEPT_CONFIDENCE = 1.0  # everything waits for a curator
    install_ingestion_models(ingestion_models, artifacts)
    ingester = APIClient()
    ingester.force_authenticate(curator)
    submitted = ingester.post(
        "/api/v1/ingestion/documents", {"documents": [{"name": "web/players", "text": DOCUMENT}]}, format="json"
    )
    assert submitted.status_code == 202, submitted.content
    job = submitted.json()
    assert job["status"] == "succeeded", job
    assert IngestionJob.objects.get(pk=job["id"]).summary["documents"] == 1
    queued = ExtractedFact.objects.filter(status="pending")
    assert queued.exists(), list(ExtractedFact.objects.values("status", "confidence", "relation_type"))
    assert ExtractedFact.objects.exclude(status="pending").count() == 0
    assert _stats(store) == before_ingestion  # nothing enters the graph before a curator decides
    clock.lap("ingest")

    # --- 5. curate: approve one fact, merge the new entity into an existing artist ----------------------
    admin = Client()
    admin.force_login(curator)
    queue_page = admin.get("/admin/ingestion/extractedfact/")
    assert queue_page.status_code == 200
    assert {row.pk for row in queue_page.context["cl"].result_list} == set(queued.values_list("pk", flat=True))
    listed = admin.get("/admin/kg/entity/", {"q": "alice"})
    assert listed.status_code == 200 and "Alice Smith" not in listed.content.decode()  # proposed only on approval
    fact = queued.get(head__text="Alice Smith")
    approved = admin.post(reverse("admin:ingestion_extractedfact_approve", args=[fact.pk]), {"note": "e2e"})
    assert approved.status_code == 302, approved.content[:1000]
    fact.refresh_from_db()
    assert fact.status == "approved"
    head, relation_type, tail = fact.triple
    assert head.startswith("leitmotif:extracted:") and tail == "leitmotif:instrument:guitar", fact.triple
    assert store.get_relation(head, relation_type, tail) is not None
    assert store.get_entity(head).name == "Alice Smith"
    assert "Alice Smith" in admin.get("/admin/kg/entity/", {"q": "alice"}).content.decode()
    assert CurationEvent.objects.filter(action="fact.approve", actor=curator).count() == 1

    keep = band.entity_id  # the artist the learner played: the curated fact sits next to their history
    merge_url = reverse("admin:kg_entity_merge", args=[quote(keep)])
    assert admin.get(merge_url, {"merge": head}).status_code == 200
    merged = admin.post(merge_url, {"merge": [head]})
    assert merged.status_code == 302, merged.content[:1000]
    assert store.get_entity(head) is None
    assert store.get_relation(keep, relation_type, tail) is not None
    assert "Alice Smith" in store.get_entity(keep).aliases
    assert CurationEvent.objects.filter(action="entity.merge").count() == 2
    fact.refresh_from_db()
    assert fact.head_entity_id == keep
    clock.lap("curate")

    # --- 6. the pages ------------------------------------------------------------------------------------
    artist = Artist.objects.get(entity_id=keep)
    course = Course.objects.order_by("udemy_id").first()
    for url in (
        reverse("home"),
        reverse("learn:for_you"),
        reverse("learn:artist", args=[artist.pk]),
        reverse("learn:course", args=[course.pk]),
        "/learn/",
    ):
        page = learner.get(url)
        assert page.status_code == 200, (url, page.content[:1000])
    # recommendations after the curation: the snapshot follows the graph, explanations cite only edges it has
    after, ranked = [], {}
    for kind in ("music", "course"):
        response = api.get(f"/api/v1/me/recommendations/?kind={kind}&k=5")
        assert response.status_code == 200, response.content
        results = response.json()["results"]
        after += _cited_edges(results)
        ranked[kind] = [(r["entity_id"], r["explanation"]["basis"]) for r in results]
    missing = [edge for edge in after if store.get_relation(*edge) is None]
    assert not missing, f"after curation, explanations cite edges that are not in the {backend} graph: {missing}"
    _same_lists_on_both_backends(backend, "after curation", ranked)
    drawn = learner.get(reverse("learn:artist", args=[artist.pk])).context["picture"]
    assert tail in {node.entity_id for node in drawn.nodes}  # the curated fact is on the artist's page
    clock.lap("pages")
    print(f"\n[{backend}] seconds per step: {TIMINGS[backend]}")
