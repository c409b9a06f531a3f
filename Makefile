# Leitmotif: `make demo` sets everything up and serves the site; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
HOST ?= 127.0.0.1
PORT ?= 8000
KG_BACKEND ?= sql
export KG_BACKEND
# With KG_BACKEND=neo4j and no NEO4J_URI of your own, `make demo` starts a private Neo4j 5.26 on loopback
# (scripts/neo4j_local.py) and every step below talks to it.
NEO4J_PORT ?= 7687
ifeq ($(KG_BACKEND),neo4j)
ifeq ($(origin NEO4J_URI),undefined)
LOCAL_NEO4J := yes
NEO4J_URI := bolt://127.0.0.1:$(NEO4J_PORT)
NEO4J_PASSWORD ?= leitmotif-dev
endif
export NEO4J_URI NEO4J_PASSWORD
endif
ARTIFACTS ?= $(or $(LEITMOTIF_ARTIFACTS_DIR),artifacts)
DATA_DIR ?= $(or $(LEITMOTIF_DATA_DIR),../shared/data)
# Works of the music21 corpus rendered to audio for the demo (`load_works` without --limit loads them all).
DEMO_WORKS ?= 24
POSTGRES_TEST_PORT ?= 15432

.PHONY: demo graph-backend redis-start redis-stop worker beat test check postgres-start postgres-stop system-deps venv migrate load models ingest train retrain curator serve neo4j-start neo4j-stop bench clean-db

demo: system-deps venv graph-backend migrate load models ingest train curator serve

# The suite runs twice: on SQLite (the default database) and on a real PostgreSQL 15 that
# scripts/postgres_local.py starts on 127.0.0.1 (with CI=true a PostgreSQL that cannot start fails the run).
test: system-deps venv check
	env -u DATABASE_URL $(PY) -m pytest
	@if url=$$($(PY) scripts/postgres_local.py start --port $(POSTGRES_TEST_PORT)); then \
		echo "--- the suite again, on PostgreSQL ($$url)"; \
		DATABASE_URL="$$url" $(PY) -m pytest; \
	elif [[ "$${CI,,}" =~ ^(1|true|yes)$$ ]]; then \
		echo "CI=true: PostgreSQL could not start (see above); its run may not be skipped." >&2; exit 1; \
	else \
		echo "PostgreSQL could not start (see above): the PostgreSQL run is SKIPPED (with CI=true this fails)." >&2; \
	fi

# Format, lint, the one-way layers of the README's map (import-linter) and types; config in pyproject.toml.
check: venv
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

# The graph store the steps use: nothing to start for the embedded sql store; a local Neo4j for KG_BACKEND=neo4j.
graph-backend: venv
	@if [ "$(LOCAL_NEO4J)" = yes ]; then \
		echo "KG_BACKEND=neo4j: starting a local Neo4j on $(NEO4J_URI)"; \
		$(PY) scripts/neo4j_local.py start --port $(NEO4J_PORT) --password "$(NEO4J_PASSWORD)" >/dev/null; \
	else echo "Knowledge graph store: $(KG_BACKEND)$(if $(filter neo4j,$(KG_BACKEND)), at $(NEO4J_URI))"; fi

system-deps:
	@bash scripts/install_system_deps.sh

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	@# basic-pitch ships its model (nmp.onnx, run by onnxruntime); --no-deps because it pins TensorFlow < 2.15.1, which needs numpy 1
	$(PY) -m pip install --quiet --no-deps basic-pitch==0.4.0
	touch $(STAMP)

migrate: venv
	$(PY) manage.py migrate --noinput

load: venv
	$(PY) manage.py load_lastfm
	$(PY) manage.py load_courses
	$(PY) manage.py load_curriculum
	$(PY) manage.py load_works --limit $(DEMO_WORKS)

# The ingestion models (NER, relation extraction), a graph embedding and the audio encoder, trained once;
# delete their artifacts folders to retrain.
models: venv
	@if ls -d $(ARTIFACTS)/ner/*/ >/dev/null 2>&1; then echo "NER model present ($(ARTIFACTS)/ner)."; else $(PY) manage.py train_ner; fi
	@if ls -d $(ARTIFACTS)/relations/*/ >/dev/null 2>&1; then echo "Relation model present ($(ARTIFACTS)/relations)."; else $(PY) manage.py train_relations; fi
	@# The audio encoder (POST /api/v1/audio, "sounds like" on work pages) predicts into a graph embedding:
	@# a short TransE run is enough for the demo's works (benchmarks/ and README have the full runs).
	@if ls -d $(ARTIFACTS)/kge/*/ >/dev/null 2>&1; then echo "Graph embedding present ($(ARTIFACTS)/kge)."; else $(PY) manage.py train_kge --model transe --epochs 10 --no-progress; fi
	@if ls -d $(ARTIFACTS)/audio/*/ >/dev/null 2>&1; then echo "Audio encoder present ($(ARTIFACTS)/audio)."; else $(PY) manage.py train_audio_encoder; fi

# Reads the shared sample documents into the graph and the review queue (idempotent).
ingest: venv
	$(PY) manage.py ingest_text $(DATA_DIR)/ingestion-samples

# Trains and publishes the serving model once; `make retrain` trains a new one on the current data.
train: venv
	@if [ -f "$(ARTIFACTS)/recommender/PUBLISHED" ]; then \
		echo "A recommender is already published ($$(cat $(ARTIFACTS)/recommender/PUBLISHED)); 'make retrain' trains a new one."; \
	else \
		$(PY) manage.py retrain_recommender; \
	fi

retrain: venv
	$(PY) manage.py retrain_recommender

# Warm-starts the embeddings (if a KGE artifact exists) and the published recommender from their
# checkpoints after new graph facts, then publishes; does nothing when the graph is unchanged.
.PHONY: refresh
refresh: venv
	$(PY) manage.py refresh_models --only-if-new-facts

curator: venv
	$(PY) manage.py create_demo_curator

serve: venv
	@echo "Serving Leitmotif on http://$(HOST):$(PORT)/ (learners: /signup/, API docs: /api/docs/, curators: /admin/)"
	$(PY) manage.py runserver $(HOST):$(PORT)

# Background work with a real broker (otherwise tasks run in the calling process): start Redis, then a
# worker and the beat schedule, with CELERY_BROKER_URL set to the URL `make redis-start` prints.
REDIS_PORT ?= 6379
redis-start:
	$(PY) scripts/redis_local.py start --port $(REDIS_PORT)

redis-stop:
	$(PY) scripts/redis_local.py stop --port $(REDIS_PORT)

worker: venv
	$(VENV)/bin/celery -A learning_platform worker --loglevel=INFO --concurrency=1

beat: venv
	$(VENV)/bin/celery -A learning_platform beat --loglevel=INFO --schedule var/celerybeat-schedule

neo4j-start:
	$(PY) scripts/neo4j_local.py start --port $(NEO4J_PORT) --password $${NEO4J_PASSWORD:-leitmotif-dev}

postgres-start:
	$(PY) scripts/postgres_local.py start --port $(POSTGRES_TEST_PORT)

postgres-stop:
	$(PY) scripts/postgres_local.py stop --port $(POSTGRES_TEST_PORT)

neo4j-stop:
	$(PY) scripts/neo4j_local.py stop --port $(NEO4J_PORT)

bench: system-deps venv
	$(PY) benchmarks/kg_load.py
	$(PY) benchmarks/neo4j_batching.py
	$(PY) benchmarks/explain_paths.py
	$(PY) benchmarks/serving_latency.py
	$(PY) benchmarks/api_latency.py
	$(PY) benchmarks/audio_features.py

clean-db:
	rm -f var/db.sqlite3 var/db.sqlite3-wal var/db.sqlite3-shm
