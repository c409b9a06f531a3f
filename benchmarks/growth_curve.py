"""The growth curve: every pipeline step at 1×, 4×, 16× and 64× the Last.FM size (issue 17).

For each scale the data comes from :mod:`benchmarks.synthetic_lastfm` (resampled from the real files,
seeded) and every step runs in **its own subprocess**, so its wall time and peak memory (the child's
``ru_maxrss``; for a child that is stopped, the highest ``VmHWM`` seen in ``/proc``) belong to that step
alone. Each scale has a scratch database and artifacts directory under ``--work-dir``
(``/tmp/h3/<scale>x/db.sqlite3``, ``.../artifacts``), so the development database is never touched.

Steps (all through the project's own code paths):

* ``generate`` – synthetic files in the loader's format (:func:`synthetic_lastfm.generate`);
* ``load_sql`` – ``migrate``, then what ``load_lastfm`` does, timed in parts: parse and validate the
  files (``lastfm_dataset_read``), the catalog bulk write (``lastfm_catalog_write``), the graph write into
  the embedded ``sql`` store (``kg.services.graph_upsert``, default batch size) in chunks whose progress is
  recorded, so a stopped load still says how far it got;
* ``load_neo4j`` – the same graph records into a fresh Neo4j 5.26 (``scripts/neo4j_local.py``, own port)
  with the same ``graph_upsert``; the catalog is not written twice;
* ``kge`` – PyKEEN TransE on the sql store's triples through ``kg.embeddings.training.kge_train``
  (defaults but ``--kge-epochs``, 5), seeded 80/10/10 split; its filtered link-prediction evaluation of
  the test part is timed apart (end of the training loop recorded by a hook);
* ``train`` – ``recommender.training.recommender_train`` of the default product model
  (:class:`JointConfig` defaults, ``ensemble_members`` included) with ``--rec-epochs`` / ``--rec-patience``
  and any ``--rec-loss`` / ``--set key=value`` overrides; the MiniLM content vectors are encoded first
  and timed apart; the end of every member's every epoch is recorded, so a stopped run says how far it got;
* ``evaluate`` – the trained artifact on the same seeded Protocol T split's test part, all items ranked
  (``evaluate_topk``, Recall@10 / NDCG@10);
* ``snapshot`` – ``GraphSnapshot.from_store`` (the explanations' in-memory graph);
* ``serve`` – publish the artifact, then ``recommendations_for_listener`` (recommend + explain, music,
  k=10) for ``--serve-users`` random listeners after one warm-up call, one torch thread: p50/p99.

A step that runs longer than its budget (``--train-budget-minutes`` for ``kge`` and ``train``,
``--step-budget-minutes`` for the rest, ``--neo4j-budget-minutes`` for ``load_neo4j``) or whose memory
passes ``--memory-cap-gb`` is stopped and recorded as not finished; the steps that need its output are
then recorded as skipped. Results are merged into ``benchmarks/results/growth_curve.json`` after every
step (several invocations may run at once; the file is locked while it is rewritten).

    nice -n 10 .venv/bin/python benchmarks/growth_curve.py --scales 1 4 [--steps ...] \\
        [--rec-loss sampled_softmax] [--set max_validation_users=2000] [--train-budget-minutes 30]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS_FILE = REPO / "benchmarks" / "results" / "growth_curve.json"
STEPS = ("generate", "load_sql", "graph_sql", "load_neo4j", "kge", "train", "evaluate", "snapshot", "serve")
#: step -> steps whose output it needs ("a|b": either)
NEEDS = {
    "load_sql": ("generate",),
    "graph_sql": ("generate",),
    "load_neo4j": ("generate",),
    "kge": ("load_sql|graph_sql",),
    "train": ("load_sql",),
    "evaluate": ("train",),
    "snapshot": ("load_sql|graph_sql",),
    "serve": ("train",),
}
GRAPH_CHUNK = 50_000  # relations per graph_upsert call (progress is recorded between calls)


def scale_label(scale: float) -> str:
    return f"{scale:g}x"


# ==================================================================================================
# parent: one subprocess per step
# ==================================================================================================


def _machine() -> dict[str, Any]:
    mem_total = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "memory_gb": mem_total,
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _save(scale: float, step: str, record: dict[str, Any], header: dict[str, Any], output: Path) -> None:
    """Merge one step's record into the results file (locked: parallel invocations share it)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(str(output) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data: dict[str, Any] = {}
        if output.exists():
            try:
                data = json.loads(output.read_text())
            except json.JSONDecodeError:
                data = {}
        data.setdefault("benchmark", "growth_curve")
        data.setdefault("description", __doc__.split("\n\n")[0])
        data["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        data["machine"] = _machine()
        runs = data.setdefault("scales", {})
        entry = runs.setdefault(scale_label(scale), {"scale": scale})
        entry["config"] = header
        entry.setdefault("steps", {})[step] = record
        tmp = output.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(output)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a running process (``/proc/<pid>/stat``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _run_child(
    *, step: str, scale: float, args: argparse.Namespace, scale_dir: Path, budget_s: float, env: dict[str, str]
) -> dict[str, Any]:
    result_path = scale_dir / f"{step}.result.json"
    progress_path = scale_dir / f"{step}.progress.json"
    for path in (result_path, progress_path):
        path.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", step, "--scales", str(scale)]
    cmd += _forwarded_args(args)
    log = open(scale_dir / f"{step}.log", "w")
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO)
    peak_kb = 0
    cpu_s: float | None = None
    stopped: str | None = None
    cap_kb = int(args.memory_cap_gb * 1024 * 1024)
    while proc.poll() is None:
        hwm = _vm_hwm_kb(proc.pid)
        if hwm:
            peak_kb = max(peak_kb, hwm)
        cpu_s = _cpu_seconds(proc.pid) or cpu_s
        elapsed = time.perf_counter() - started
        if elapsed > budget_s:
            stopped = f"did not finish within {budget_s / 60:g} min"
        elif peak_kb > cap_kb:
            stopped = f"stopped: peak memory above the {args.memory_cap_gb:g} GB cap"
        if stopped:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            break
        time.sleep(0.5)
    wall = time.perf_counter() - started
    log.close()
    record: dict[str, Any] = {"wall_seconds": round(wall, 2)}
    if result_path.exists():
        child = json.loads(result_path.read_text())
        record["status"] = "ok"
        record["peak_rss_mb"] = round(child.pop("max_rss_kb") / 1024, 1)
        record.update(child)
    else:
        if stopped is None:
            tail = (scale_dir / f"{step}.log").read_text(errors="replace").strip().splitlines()[-3:]
            stopped = f"failed (exit {proc.returncode}): " + " | ".join(tail)
        record["status"] = stopped
        record["peak_rss_mb"] = round(peak_kb / 1024, 1) if peak_kb else None
        record["peak_rss_note"] = "highest VmHWM seen while it ran (sampled every 0.5 s)"
        record["cpu_seconds"] = round(cpu_s, 1) if cpu_s is not None else None
    if progress_path.exists():
        record["progress"] = json.loads(progress_path.read_text())
    return record


def _forwarded_args(args: argparse.Namespace) -> list[str]:
    out = [
        "--seed", str(args.seed), "--work-dir", str(args.work_dir), "--kge-epochs", str(args.kge_epochs),
        "--rec-epochs", str(args.rec_epochs), "--rec-patience", str(args.rec_patience),
        "--serve-users", str(args.serve_users), "--neo4j-port", str(args.neo4j_port),
        "--eval-max-users", str(args.eval_max_users),
    ]  # fmt: skip
    if args.rec_loss:
        out += ["--rec-loss", args.rec_loss]
    for item in args.set or []:
        out += ["--set", item]
    return out


def _env_for(scale_dir: Path, args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "learning_platform.settings",
            "DATABASE_URL": f"sqlite:///{scale_dir / 'db.sqlite3'}",
            "LEITMOTIF_ARTIFACTS_DIR": str(scale_dir / "artifacts"),
            "LEITMOTIF_CACHE_DIR": str(scale_dir / "cache"),
            "KG_BACKEND": "sql",
            "NEO4J_URI": f"bolt://127.0.0.1:{args.neo4j_port}",
            "NEO4J_USER": "neo4j",
            "NEO4J_PASSWORD": args.neo4j_password,
            "PYTHONUNBUFFERED": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
    )
    return env


def _neo4j_launcher(args: argparse.Namespace):
    """scripts/neo4j_local.py with its run directory under the work dir (the Maven jars are linked, not copied)."""
    import importlib.util

    cache = Path(args.work_dir) / "neo4j-cache"
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["LEITMOTIF_CACHE"] = str(cache)
    home_cache = Path.home() / ".cache" / "leitmotif"
    spec = importlib.util.spec_from_file_location("neo4j_local", REPO / "scripts" / "neo4j_local.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    link = cache / f"neo4j-{module.NEO4J_VERSION}"
    source = home_cache / f"neo4j-{module.NEO4J_VERSION}"
    if not link.exists() and source.exists():
        link.symlink_to(source)
    return module


def run_parent(args: argparse.Namespace) -> None:
    header = {
        "seed": args.seed,
        "kge": {"model": "TransE (kg.embeddings defaults)", "epochs": args.kge_epochs},
        "recommender": {
            "model": "leitmotif.joint.v1, JointConfig defaults",
            "epochs": args.rec_epochs,
            "patience": args.rec_patience,
            "rec_loss": args.rec_loss or "default",
            "overrides": _overrides(args),
        },
        "serve_users": args.serve_users,
        "budgets_minutes": {
            "train_and_kge": args.train_budget_minutes,
            "load_neo4j": args.neo4j_budget_minutes,
            "other_steps": args.step_budget_minutes,
        },
        "memory_cap_gb": args.memory_cap_gb,
        "torch_threads": 1,
        "command": "python benchmarks/growth_curve.py " + " ".join(sys.argv[1:]),
    }
    output = Path(args.output)
    for scale in args.scales:
        scale_dir = Path(args.work_dir) / scale_label(scale)
        scale_dir.mkdir(parents=True, exist_ok=True)
        env = _env_for(scale_dir, args)
        status: dict[str, str] = {}
        previous = {}
        if output.exists():
            previous = json.loads(output.read_text()).get("scales", {}).get(scale_label(scale), {}).get("steps", {})
        for step in args.steps:
            missing = [
                need
                for need in NEEDS.get(step, ())
                if not any(
                    (status[n] if n in status else previous.get(n, {}).get("status")) == "ok" for n in need.split("|")
                )
            ]
            if missing:
                record = {"status": f"skipped: needs {', '.join(missing)} (not finished)"}
            else:
                budget = args.step_budget_minutes
                if step in ("kge", "train"):
                    budget = args.train_budget_minutes
                elif step == "load_neo4j":
                    budget = args.neo4j_budget_minutes
                launcher = None
                if step == "load_neo4j":
                    launcher = _neo4j_launcher(args)
                    launcher.start(port=args.neo4j_port, password=args.neo4j_password, fresh=True)
                try:
                    record = _run_child(
                        step=step, scale=scale, args=args, scale_dir=scale_dir, budget_s=budget * 60, env=env
                    )
                finally:
                    if launcher is not None:
                        launcher.stop(port=args.neo4j_port)
                record["budget_minutes"] = budget
            status[step] = record["status"]
            _save(scale, step, record, header, output)
            brief = {k: v for k, v in record.items() if k in ("status", "wall_seconds", "peak_rss_mb")}
            print(f"[{time.strftime('%H:%M:%S')}] {scale_label(scale)} {step}: {brief}", flush=True)


# ==================================================================================================
# children: one step each
# ==================================================================================================


class Progress:
    """Appends timestamped events to ``<step>.progress.json`` (read by the parent if the step is stopped)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = time.perf_counter()
        self.events: list[dict[str, Any]] = []

    def add(self, **event: Any) -> None:
        self.events.append({"t": round(time.perf_counter() - self.started, 2), **event})
        self.path.write_text(json.dumps(self.events))


def _django() -> None:
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {"epochs": args.rec_epochs, "patience": args.rec_patience}
    if args.rec_loss:
        changes["rec_loss"] = args.rec_loss
    for item in args.set or []:
        key, _, value = item.partition("=")
        try:
            changes[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            changes[key.strip()] = value
    return changes


def _step_generate(args, scale, scale_dir, progress) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from synthetic_lastfm import REAL_COUNTS, fit_lastfm, generate, write_lastfm_dir

    t0 = time.perf_counter()
    fit_lastfm()
    t1 = time.perf_counter()
    data = generate(scale, seed=args.seed)
    t2 = time.perf_counter()
    write_lastfm_dir(data, scale_dir / "data")
    t3 = time.perf_counter()
    counts = data.counts()
    return {
        "fit_seconds": round(t1 - t0, 2),
        "generate_seconds": round(t2 - t1, 2),
        "write_seconds": round(t3 - t2, 2),
        "counts": counts,
        "ratio_to_real": {k: round(counts[k] / v, 3) for k, v in REAL_COUNTS.items()},
        "files_mb": round(sum(p.stat().st_size for p in (scale_dir / "data").rglob("*") if p.is_file()) / 2**20, 1),
    }


def _graph_records(scale_dir: Path):
    """The validation pass over the scale's files (:func:`lastfm_scan`): ids and aggregates, no rows.

    The graph records are then built chunk by chunk from it (``scan.graph_entities()``,
    ``scan.graph_relations()``), so no step holds every record. They are the whole catalogue's records,
    what ``load_lastfm`` writes (on the synthetic data every artist is a KGCN item, so the same records
    as the KGCN subset's).
    """
    from ingestion.loaders.lastfm import lastfm_scan

    t0 = time.perf_counter()
    scan = lastfm_scan(data_dir=scale_dir / "data")
    t1 = time.perf_counter()
    return scan, {"parse_seconds": round(t1 - t0, 2)}


def _chunked_upsert(store, scan, progress: Progress) -> dict[str, Any]:
    """``graph_upsert`` of the scan's entities, then relations, ``GRAPH_CHUNK`` records per call."""
    from itertools import islice

    from kg.services import graph_upsert

    def chunks(records):
        iterator = iter(records)
        while chunk := list(islice(iterator, GRAPH_CHUNK)):
            yield chunk

    entities = sum(scan.counts.entities_by_type.values())
    relations = scan.counts.kgcn_triples + scan.counts.tag_relations
    t0 = time.perf_counter()
    done = 0
    for chunk in chunks(scan.graph_entities()):
        graph_upsert(store=store, entities=chunk)
        done += len(chunk)
        progress.add(entities_written=done, of=entities)
    t1 = time.perf_counter()
    done = 0
    for chunk in chunks(scan.graph_relations()):
        graph_upsert(store=store, relations=chunk)
        done += len(chunk)
        progress.add(relations_written=done, of=relations)
    t2 = time.perf_counter()
    return {
        "entities": entities,
        "relations": relations,
        "entities_seconds": round(t1 - t0, 2),
        "relations_seconds": round(t2 - t1, 2),
        "graph_seconds": round(t2 - t0, 2),
        "relations_per_second": round(relations / max(t2 - t1, 1e-9), 1),
    }


def _step_load_sql(args, scale, scale_dir, progress) -> dict[str, Any]:
    """``migrate``, then ``lastfm_load`` itself (streaming: validation pass, catalog, graph), timed in parts."""
    t0 = time.perf_counter()
    _django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    migrate_seconds = time.perf_counter() - t0
    progress.add(migrated=True)
    from ingestion.loaders.lastfm import lastfm_load
    from kg.stores.sql import SqlGraphStore

    last: dict[str, float] = {}

    def on_progress(phase: str, done: int) -> None:  # one event per phase every ~5 s, so a stopped load says how far
        now = time.perf_counter()
        if now - last.get(phase, 0.0) >= 5.0:
            last[phase] = now
            progress.add(phase=phase, rows_done=done)

    store = SqlGraphStore()
    t1 = time.perf_counter()
    report = lastfm_load(data_dir=scale_dir / "data", store=store, progress=False, on_progress=on_progress)
    load_seconds = time.perf_counter() - t1
    stats = store.stats()
    timings = report.timings
    relations = report.counts.kgcn_triples + report.counts.tag_relations
    return {
        "migrate_seconds": round(migrate_seconds, 2),
        "loader": "ingestion.loaders.lastfm.lastfm_load (streaming, whole catalogue)",
        "parse_seconds": timings["scan"],
        "catalog_seconds": timings["catalog"],
        "catalog_rows": {name: r.created + r.updated + r.unchanged for name, r in report.catalog.items()},
        "entities": sum(report.counts.entities_by_type.values()),
        "relations": relations,
        "entities_seconds": timings["graph_entities"],
        "relations_seconds": timings["graph_relations"],
        "graph_seconds": round(timings["graph_entities"] + timings["graph_relations"], 2),
        "relations_per_second": round(relations / max(timings["graph_relations"], 1e-9), 1),
        "store_entities": stats.entities,
        "store_relations": stats.relations,
        "load_seconds_total": round(load_seconds, 2),
        "db_mb": round((scale_dir / "db.sqlite3").stat().st_size / 2**20, 1),
    }


def _step_graph_sql(args, scale, scale_dir, progress) -> dict[str, Any]:
    """The graph half of ``load_sql`` alone (as benchmarks/kg_load.py measures it): for a scale whose catalog write did not fit."""
    _django()
    from django.core.management import call_command

    from kg.stores.sql import SqlGraphStore

    call_command("migrate", verbosity=0, interactive=False)
    scan, parse = _graph_records(scale_dir)
    progress.add(parsed=True, **parse)
    store = SqlGraphStore()
    graph = _chunked_upsert(store, scan, progress)
    stats = store.stats()
    return {**parse, **graph, "store_entities": stats.entities, "store_relations": stats.relations}


def _step_load_neo4j(args, scale, scale_dir, progress) -> dict[str, Any]:
    _django()
    from kg.stores.neo4j import Neo4jGraphStore

    scan, parse = _graph_records(scale_dir)
    progress.add(parsed=True, **parse)
    store = Neo4jGraphStore(uri=os.environ["NEO4J_URI"], user="neo4j", password=os.environ["NEO4J_PASSWORD"])
    try:
        graph = _chunked_upsert(store, scan, progress)
        stats = store.stats()
    finally:
        store.close()
    return {**parse, **graph, "store_entities": stats.entities, "store_relations": stats.relations}


def _step_kge(args, scale, scale_dir, progress) -> dict[str, Any]:
    _django()
    from pykeen.training import SLCWATrainingLoop

    from kg.embeddings.config import KgeConfig
    from kg.embeddings.sources import triples_from_store
    from kg.embeddings.training import kge_train
    from kg.stores.sql import SqlGraphStore

    original_train = SLCWATrainingLoop.train

    def train(self, *a, **k):  # records the end of the training loop (evaluation follows)
        progress.add(training_started=True)
        out = original_train(self, *a, **k)
        progress.add(training_done=True)
        return out

    SLCWATrainingLoop.train = train  # type: ignore[method-assign]
    t0 = time.perf_counter()
    triples = triples_from_store(store=SqlGraphStore())
    read_seconds = time.perf_counter() - t0
    progress.add(triples_read=len(triples))
    config = KgeConfig(epochs=args.kge_epochs)
    t1 = time.perf_counter()
    result = kge_train(triples=triples, config=config)
    total = time.perf_counter() - t1
    events = {
        e.get("training_done") and "done" or e.get("training_started") and "start": e["t"] for e in progress.events
    }
    train_s = events.get("done", 0) - events.get("start", 0)
    return {
        "triples": len(triples),
        "entities": len(result.entity_to_id),
        "read_triples_seconds": round(read_seconds, 2),
        "config": config.to_dict(),
        "train_loop_seconds": round(train_s, 2),
        "seconds_per_epoch": round(train_s / max(result.epochs_trained, 1), 2),
        "evaluation_seconds": round(total - train_s, 2),
        "kge_train_seconds_total": round(total, 2),
        "test": result.evaluations["test"].to_dict(),
        "split_sizes": result.split_sizes,
    }


def _step_train(args, scale, scale_dir, progress) -> dict[str, Any]:
    _django()
    import torch

    torch.set_num_threads(1)
    from kg.stores.sql import SqlGraphStore
    from recommender.content import DEFAULT_TEXT_ENCODER, item_content_embeddings
    from recommender.data import InteractionDataset
    from recommender.models import fitting
    from recommender.models.config import JointConfig
    from recommender.training import recommender_train

    original = fitting.MemberTrainer._epoch_losses
    epochs_seen = {"n": 0}

    def epoch_losses(self, *a, **k):
        for step, loss in enumerate(original(self, *a, **k), start=1):
            yield loss
            if step % 25 == 0:  # per-step cost, so a stopped run still tells how long a step takes
                progress.add(epoch=epochs_seen["n"] + 1, steps_done=step)
        epochs_seen["n"] += 1
        progress.add(epoch_done=epochs_seen["n"])

    fitting.MemberTrainer._epoch_losses = epoch_losses  # type: ignore[method-assign]
    t0 = time.perf_counter()
    dataset = InteractionDataset.from_catalog(store=SqlGraphStore())
    dataset_seconds = time.perf_counter() - t0
    progress.add(dataset_seconds=round(dataset_seconds, 2), users=dataset.n_users, items=dataset.n_items)
    config = JointConfig().with_overrides(**_overrides(args))
    t1 = time.perf_counter()
    if config.use_content:
        item_content_embeddings(
            item_ids=dataset.item_ids, side_info=dataset.side_info, encoder_name=DEFAULT_TEXT_ENCODER
        )
    content_seconds = time.perf_counter() - t1
    progress.add(content_seconds=round(content_seconds, 2))
    t2 = time.perf_counter()
    trained = recommender_train(dataset=dataset, config=config, seed=args.seed, save=True)
    train_seconds = time.perf_counter() - t2
    training = trained.metrics.get("training", {})
    (scale_dir / "artifact.txt").write_text(str(trained.path))
    fit_events = [e["t"] for e in progress.events if "epoch_done" in e]
    progress.events = [e for e in progress.events if "steps_done" not in e]
    return {
        "dataset": {"users": dataset.n_users, "items": dataset.n_items, "interactions": dataset.n_interactions},
        "dataset_seconds": round(dataset_seconds, 2),
        "content_seconds": round(content_seconds, 2),
        "recommender_train_seconds": round(train_seconds, 2),
        "epochs_run_all_members": len(fit_events),
        "config": trained.config.to_dict(),
        "validation": {k: v for k, v in trained.metrics.get("validation", {}).items() if k in ("recall@10", "ndcg@10")},
        "training": {k: v for k, v in training.items() if not isinstance(v, list | dict)}
        if isinstance(training, dict)
        else None,
        "artifact": str(trained.path),
    }


def _step_evaluate(args, scale, scale_dir, progress) -> dict[str, Any]:
    _django()
    import torch

    torch.set_num_threads(1)
    from kg.stores.sql import SqlGraphStore
    from recommender.data import InteractionDataset
    from recommender.evaluation.evaluator import evaluate_topk
    from recommender.evaluation.splits import protocol_t_split
    from recommender.training import load_trained_recommender

    t0 = time.perf_counter()
    trained = load_trained_recommender((scale_dir / "artifact.txt").read_text().strip())
    dataset = InteractionDataset.from_catalog(store=SqlGraphStore())
    split = protocol_t_split(dataset, seed=args.seed)
    prepare = time.perf_counter() - t0
    t1 = time.perf_counter()
    max_users = args.eval_max_users or None  # a seeded sample of test users (0 = all of them)
    result = evaluate_topk(trained.model, split, ks=(10,), part="test", max_users=max_users)
    seconds = time.perf_counter() - t1
    return {
        "prepare_seconds": round(prepare, 2),
        "evaluate_seconds": round(seconds, 2),
        "recall@10": result.metrics.get("recall@10"),
        "ndcg@10": result.metrics.get("ndcg@10"),
        "test_users": result.details.get("users") if isinstance(result.details, dict) else None,
        "user_sample": result.details.get("user_sample") if isinstance(result.details, dict) else None,
        "items_ranked": dataset.n_items,
    }


def _step_snapshot(args, scale, scale_dir, progress) -> dict[str, Any]:
    _django()
    from kg.stores.sql import SqlGraphStore
    from recommender.explanations.snapshot import GraphSnapshot

    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    snapshot = GraphSnapshot.from_store(SqlGraphStore())
    seconds = time.perf_counter() - t0
    return {
        "build_seconds": round(seconds, 2),
        "nodes": snapshot.n_nodes,
        "edges": snapshot.n_edges,
        "rss_before_build_mb": round(before_kb / 1024, 1),
    }


def _step_serve(args, scale, scale_dir, progress) -> dict[str, Any]:
    _django()
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from catalog.models import Listener
    from recommender.serving.model_holder import model_holder, model_publish
    from recommender.serving.selectors import recommendations_for_listener

    model_publish((scale_dir / "artifact.txt").read_text().strip())
    t0 = time.perf_counter()
    model_holder().current()
    load_seconds = time.perf_counter() - t0
    pks = list(Listener.objects.filter(lastfm_id__isnull=False).order_by("pk").values_list("pk", flat=True))
    chosen = random.Random(7).sample(pks, min(args.serve_users + 1, len(pks)))
    listeners = list(Listener.objects.filter(pk__in=chosen).order_by("pk"))
    t1 = time.perf_counter()
    recommendations_for_listener(listeners[0], kind="music", k=10)  # warm-up: graph snapshot, caches
    warm_up = time.perf_counter() - t1
    progress.add(warm_up_seconds=round(warm_up, 2))
    timings, cpu, returned = [], [], 0
    for listener in listeners[1:]:
        s, c = time.perf_counter(), time.process_time()
        recs = recommendations_for_listener(listener, kind="music", k=10)
        timings.append((time.perf_counter() - s) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        returned += len(recs)
    arr = np.asarray(timings)
    return {
        "model_load_seconds": round(load_seconds, 2),
        "warm_up_seconds": round(warm_up, 2),
        "calls": len(timings),
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p99_ms": round(float(np.percentile(arr, 99)), 1),
        "mean_ms": round(float(arr.mean()), 1),
        "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 1),
        "results_per_call": round(returned / max(len(timings), 1), 2),
    }


CHILD_STEPS = {
    "generate": _step_generate,
    "load_sql": _step_load_sql,
    "graph_sql": _step_graph_sql,
    "load_neo4j": _step_load_neo4j,
    "kge": _step_kge,
    "train": _step_train,
    "evaluate": _step_evaluate,
    "snapshot": _step_snapshot,
    "serve": _step_serve,
}


def run_child(args: argparse.Namespace) -> None:
    scale = args.scales[0]
    scale_dir = Path(args.work_dir) / scale_label(scale)
    progress = Progress(scale_dir / f"{args.child}.progress.json")
    t0 = time.perf_counter()
    result = CHILD_STEPS[args.child](args, scale, scale_dir, progress)
    result["child_seconds"] = round(time.perf_counter() - t0, 2)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["max_rss_kb"] = usage.ru_maxrss
    # CPU time says what a step costs when other jobs share the cores (wall time then includes waiting).
    result["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 1)
    (scale_dir / f"{args.child}.result.json").write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, default=str))


#: (step, the record's field that is the step's own time) for the table; wall time includes start-up
TABLE_TIMES = {
    "generate": "generate_seconds",
    "load_sql": "load_seconds_total",
    "graph_sql": "graph_seconds",
    "load_neo4j": "graph_seconds",
    "kge": "train_loop_seconds",
    "train": "recommender_train_seconds",
    "evaluate": "evaluate_seconds",
    "snapshot": "build_seconds",
    "serve": "p50_ms",
}


def print_table(output: Path) -> None:
    """The growth table (Markdown) from the results file: per step and scale, time, peak RSS, status."""
    data = json.loads(output.read_text())
    scales = sorted(data.get("scales", {}).values(), key=lambda entry: entry["scale"])
    print("| step | " + " | ".join(scale_label(e["scale"]) for e in scales) + " |")
    print("| --- |" + " --- |" * len(scales))
    for step in STEPS:
        cells = []
        for entry in scales:
            r = entry.get("steps", {}).get(step)
            if r is None:
                cells.append("not run")
            elif r.get("status") != "ok":
                cells.append(f"{r['status']} ({r.get('peak_rss_mb')} MB)")
            else:
                value = r.get(TABLE_TIMES[step])
                unit = " ms p50" if step == "serve" else " s"
                extra = f", p99 {r.get('p99_ms')} ms" if step == "serve" else ""
                cells.append(f"{value}{unit}{extra} (wall {r['wall_seconds']} s, {r['peak_rss_mb']} MB)")
        print(f"| {step} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", default="/tmp/h3")
    parser.add_argument("--output", default=str(RESULTS_FILE))
    parser.add_argument("--kge-epochs", type=int, default=5)
    parser.add_argument("--rec-epochs", type=int, default=3)
    parser.add_argument("--rec-patience", type=int, default=3)
    parser.add_argument("--rec-loss", default=None, help="JointConfig.rec_loss (default: the config's default)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="any JointConfig field (JSON value)")
    parser.add_argument("--train-budget-minutes", type=float, default=30.0)
    parser.add_argument("--neo4j-budget-minutes", type=float, default=30.0)
    parser.add_argument("--step-budget-minutes", type=float, default=30.0)
    parser.add_argument("--memory-cap-gb", type=float, default=10.0)
    parser.add_argument("--serve-users", type=int, default=50)
    parser.add_argument(
        "--eval-max-users", type=int, default=0, help="evaluate a seeded sample of this many test users (0 = all)"
    )
    parser.add_argument("--neo4j-port", type=int, default=7711)
    parser.add_argument("--neo4j-password", default="growth-curve-h3")
    parser.add_argument("--table", action="store_true", help="print the growth table from --output and exit")
    parser.add_argument("--child", choices=STEPS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.table:
        print_table(Path(args.output))
    elif args.child:
        run_child(args)
    else:
        run_parent(args)


if __name__ == "__main__":
    main()
