"""Shared set-up for benchmark scripts: Django on a throw-away database, a real Neo4j, JSON results.

Benchmarks never touch the development database: each run migrates a fresh SQLite file under a
temporary directory, and the neo4j half starts its own server on a separate loopback port.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
BENCH_NEO4J_PORT = int(os.environ.get("NEO4J_BENCH_PORT", "17690"))


def django_setup_on_scratch_db() -> Path:
    """Point Django at a new SQLite file, migrate it, and return its path."""
    scratch = Path(tempfile.mkdtemp(prefix="leitmotif-bench-")) / "bench.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
    sys.path.insert(0, str(REPO))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    return scratch


def neo4j_launcher():
    spec = importlib.util.spec_from_file_location("neo4j_local", REPO / "scripts" / "neo4j_local.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def neo4j_store_for_benchmark():
    """A Neo4jGraphStore on a fresh benchmark server, stopped afterwards."""
    from kg.stores.neo4j import Neo4jGraphStore

    launcher = neo4j_launcher()
    state = launcher.start(port=BENCH_NEO4J_PORT, fresh=True)
    store = Neo4jGraphStore(uri=state["uri"], user=state["user"], password=state["password"])
    try:
        yield store
    finally:
        store.close()
        launcher.stop(port=BENCH_NEO4J_PORT)


def percentile(values: list[float], q: float, *, digits: int = 3) -> float | None:
    """The ``q``-th percentile of ``values`` rounded to ``digits`` (``None`` for no values)."""
    import numpy as np

    return round(float(np.percentile(np.asarray(values), q)), digits) if values else None


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        # Other work on the same cores skews timings; the load average says how busy the machine was.
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def save_result(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **payload,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"saved {path.relative_to(REPO)}")
    return path


def data_dir() -> Path:
    return Path(os.environ.get("LEITMOTIF_DATA_DIR", REPO.parent / "shared" / "data"))
