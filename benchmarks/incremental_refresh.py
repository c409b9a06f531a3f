"""Warm-started refresh against training from scratch, on the real Last.FM graph after a batch of new facts.

Reads the development database's graph (sql store) and catalog; writes nothing there (artifacts go to a
temporary folder). A seeded 2 % of the graph's triples plays the "batch of new facts": the *parent*
models are trained from scratch on the graph without them, then

* KGE (TransE, dim 64): the parent is refreshed on the full graph for a fifth of the epochs
  (``kg.embeddings.warm_start``), and compared with a from-scratch run of the full budget and one of the
  refresh's budget, all three on the *same* warm-start split (parent's validation/test kept, new triples
  split 80/10/10), so their test metrics are comparable; "test, new facts" are the test triples that are
  part of the batch;
* recommender (``leitmotif.joint.v1``, default config): the published-style parent trained on the old
  graph is warm-started on the full graph (new entities from the refreshed TransE vectors, a fifth of
  the epoch budget) and compared with a from-scratch run on the full graph; Protocol T (seed 0)
  validation and test Recall@10 / NDCG@10 (test for reporting only).

torch runs on one thread. Prints a table and saves benchmarks/results/incremental_refresh.json.

    .venv/bin/python benchmarks/incremental_refresh.py [--kge-epochs 50] [--batch-fraction 0.02] [--rec-epochs N] [--skip-recommender]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kge-epochs", type=int, default=50, help="From-scratch TransE epochs (train_kge's default).")
    parser.add_argument(
        "--refresh-fraction", type=float, default=0.2, help="Share of the from-scratch epochs a refresh trains."
    )
    parser.add_argument(
        "--batch-fraction", type=float, default=0.02, help="Share of the graph's triples held back as the new facts."
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rec-seed", type=int, default=0)
    parser.add_argument(
        "--rec-epochs", type=int, default=None, help="From-scratch recommender epoch budget (default: JointConfig's)."
    )
    parser.add_argument("--skip-recommender", action="store_true")
    parser.add_argument(
        "--keep-artifacts", action="store_true", help="Keep the temporary artifacts folder (printed at the end)."
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
    import django

    django.setup()
    import logging

    import numpy as np
    import torch

    logging.disable(logging.WARNING)  # PyKEEN logs every model build at INFO/WARNING
    torch.set_num_threads(1)

    from benchmarks._common import save_result
    from kg.embeddings.artifacts import load_kge_artifact, save_kge_artifact
    from kg.embeddings.config import KgeConfig
    from kg.embeddings.sources import triples_from_store
    from kg.embeddings.training import kge_evaluate, kge_train, kge_train_on_split
    from kg.embeddings.warm_start import KgeRefresh, KgeWarmStart, refresh_config, warm_start_split
    from kg.stores import get_store
    from recommender.data import InteractionDataset

    work = Path(tempfile.mkdtemp(prefix="leitmotif-refresh-bench-"))
    # one snapshot of graph and catalog for every run (other jobs may write to the database meanwhile)
    with get_store("sql") as store:
        triples = triples_from_store(store=store)
        dataset = None if args.skip_recommender else InteractionDataset.from_catalog(store=store)
    if len(triples) == 0:
        raise SystemExit("The development graph is empty; run `python manage.py load_lastfm` first.")
    rng = np.random.default_rng(args.seed)
    batch_size = max(1, int(round(args.batch_fraction * len(triples))))
    in_batch = np.zeros(len(triples), dtype=bool)
    in_batch[rng.choice(len(triples), size=batch_size, replace=False)] = True
    old_graph, batch = triples[~in_batch], triples[in_batch]
    print(
        f"Graph: {len(triples):,} triples; new-fact batch: {len(batch):,} ({args.batch_fraction:.0%}); old graph {len(old_graph):,}.",
        flush=True,
    )

    # --- KGE ------------------------------------------------------------------------------------
    scratch_config = KgeConfig(model="transe", embedding_dim=64, epochs=args.kge_epochs, seed=args.seed)
    refresh_epochs = max(1, math.ceil(args.refresh_fraction * args.kge_epochs))
    print(f"\n== KGE parent: TransE from scratch on the old graph, {args.kge_epochs} epochs", flush=True)
    started, cpu_started = time.perf_counter(), time.process_time()
    parent_result = kge_train(triples=old_graph, config=scratch_config, progress=True)
    parent_seconds, parent_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    parent = load_kge_artifact(save_kge_artifact(result=parent_result, directory=work / "kge"))

    warm_config = refresh_config(parent, epochs=refresh_epochs)
    split, change = warm_start_split(
        parent=parent, triples=triples, ratios=warm_config.split_ratios, seed=warm_config.seed
    )
    batch_rows = set(map(tuple, batch.tolist()))
    id_to_entity = {v: k for k, v in split.entity_to_id.items()}
    id_to_relation = {v: k for k, v in split.relation_to_id.items()}
    new_fact_rows = [
        i
        for i, (h, r, t) in enumerate(split.testing.mapped_triples.tolist())
        if (id_to_entity[h], id_to_relation[r], id_to_entity[t]) in batch_rows
    ]
    extra = (
        {
            "test, new facts": split.testing.clone_and_exchange_triples(
                mapped_triples=split.testing.mapped_triples[new_fact_rows]
            )
        }
        if new_fact_rows
        else {}
    )
    print(
        f"Graph change found by the refresh: {change.to_dict()}; split {split.sizes()}; {len(new_fact_rows)} new-fact test triples.",
        flush=True,
    )

    kge_runs = {}
    variants = [
        ("warm start", warm_config, True),
        ("from scratch, full budget", scratch_config, False),
        (
            "from scratch, refresh budget",
            KgeConfig.from_dict({**scratch_config.to_dict(), "epochs": refresh_epochs}),
            False,
        ),
    ]
    warm_artifact = None
    for name, config, warm in variants:
        print(f"\n== KGE {name}: {config.epochs} epochs on the full graph", flush=True)
        started, cpu_started = time.perf_counter(), time.process_time()
        result = kge_train_on_split(
            split=split,
            config=config,
            progress=True,
            extra_test_sets=extra,
            warm_start=KgeWarmStart.from_artifact(parent) if warm else None,
        )
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        kge_runs[name] = {
            "epochs": config.epochs,
            "training_and_test_evaluation_seconds": round(result.training_seconds, 1),
            "wall_seconds": round(wall, 1),
            # one thread: CPU seconds are the compute actually spent, much less sensitive to other jobs on the cores
            "cpu_seconds": round(cpu, 1),
            "final_epoch_loss": round(result.epoch_losses[-1], 5),
            # how much of the parent's vector space survives: mean cosine of each old entity's vector to its parent vector
            "old_entity_cosine_to_parent": round(
                _mean_row_cosine(result.entity_embeddings[: len(parent.entity_to_id)], parent.entity_embeddings), 4
            ),
            "metrics": {
                key: {m: round(v, 4) if isinstance(v, float) else v for m, v in metrics.to_dict().items()}
                for key, metrics in result.evaluations.items()
            },
        }
        if warm:
            cpu_started = time.process_time()
            kge_evaluate(
                model=result.model,
                testing=split.testing,
                config=config,
                filter_triples=[
                    split.training.mapped_triples,
                    split.validation.mapped_triples,
                    split.testing.mapped_triples,
                ],
            )
            test_evaluation_cpu = round(time.process_time() - cpu_started, 1)
            warm_artifact = save_kge_artifact(
                result=result,
                directory=work / "kge",
                lineage=KgeRefresh(result=result, parent=parent, change=change).lineage(),
            )
        _print_kge(name, kge_runs[name])

    report = {
        "graph": {"store": "sql (development database)", "triples": int(len(triples))},
        "batch": {"fraction": args.batch_fraction, "triples": int(len(batch)), "seed": args.seed},
        "kge": {
            "model": "kge.transe.v1",
            "scratch_config": scratch_config.to_dict(),
            "refresh_epochs": refresh_epochs,
            "test_evaluation_cpu_seconds": test_evaluation_cpu,
            "parent": {
                "epochs": args.kge_epochs,
                "seconds": round(parent_seconds, 1),
                "cpu_seconds": round(parent_cpu, 1),
                "test_on_old_graph": {
                    k: round(v, 4) if isinstance(v, float) else v for k, v in parent_result.metrics.to_dict().items()
                },
            },
            "graph_change": change.to_dict(),
            "split": split.sizes(),
            "split_moved_to_training": dict(split.dropped),
            "test_new_fact_triples": len(new_fact_rows),
            "runs": kge_runs,
            "protocol": "filtered link prediction, both sides, realistic ranks; every run on the same warm-start split",
        },
    }

    # --- recommender ------------------------------------------------------------------------------
    if not args.skip_recommender:
        report["recommender"] = _recommender_benchmark(
            args, full=dataset, batch_rows=batch_rows, warm_kge=warm_artifact, work=work
        )

    report["torch_threads"] = torch.get_num_threads()
    save_result("incremental_refresh", report)
    if args.keep_artifacts:
        print(f"artifacts kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def _print_kge(name: str, run: dict) -> None:
    print(
        f"{name}: {run['epochs']} epochs, {run['training_and_test_evaluation_seconds']:.1f} s wall / {run['cpu_seconds']:.1f} s CPU (training + test evaluation)"
    )
    for key, m in run["metrics"].items():
        print(
            f"  {key:18s} triples {m['num_triples']:>6,}  MRR {m['mrr']:.4f}  Hits@1 {m['hits_at_1']:.4f}  Hits@10 {m['hits_at_10']:.4f}",
            flush=True,
        )


def _mean_row_cosine(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean((a * b).sum(axis=1) / np.maximum(norms, 1e-12)))


def _top10_overlap(model_a, model_b, split) -> float:
    """Mean share of each validation user's top-10 (training items excluded) that two models agree on."""
    import numpy as np

    from recommender.baselines.torch_utils import validation_users

    users = validation_users(split.validation.tocsr())
    train = split.train_binary().tocsr()
    overlaps = []
    for start in range(0, len(users), 256):
        batch = users[start : start + 256]
        tops = []
        for model in (model_a, model_b):
            scores = np.array(model.score(batch), dtype=np.float32, copy=True)
            seen = train[batch].tocoo()
            scores[seen.row, seen.col] = -np.inf
            tops.append(np.argpartition(-scores, kth=10, axis=1)[:, :10])
        overlaps += [len(set(x) & set(y)) / 10 for x, y in zip(*tops, strict=True)]
    return float(np.mean(overlaps))


def _side_info_without(side_info, removed: set[tuple[str, str, str]]):
    """``side_info`` as :func:`recommender.data.build_side_info` would build it from the graph minus ``removed``."""
    import numpy as np

    from recommender.base import ItemSideInfo

    entities, relations = side_info.entity_ids, side_info.relation_types
    kept = [(entities[h], relations[r], entities[t]) for h, r, t in side_info.kg_triples.tolist()]
    kept = [row for row in kept if row not in removed]
    item_entities = [entities[e] for e in side_info.item_entity.tolist()]
    entity_ids = sorted({h for h, _, _ in kept} | {t for _, _, t in kept} | set(item_entities))
    relation_types = sorted({r for _, r, _ in kept})
    entity_index = {e: k for k, e in enumerate(entity_ids)}
    relation_index = {r: k for k, r in enumerate(relation_types)}
    return ItemSideInfo(
        item_tags=side_info.item_tags,
        tag_names=side_info.tag_names,
        kg_triples=np.asarray(
            [(entity_index[h], relation_index[r], entity_index[t]) for h, r, t in kept], dtype=np.int64
        ).reshape(-1, 3),
        entity_ids=entity_ids,
        relation_types=relation_types,
        item_entity=np.asarray([entity_index[e] for e in item_entities], dtype=np.int64),
    )


def _recommender_benchmark(args, *, full, batch_rows: set, warm_kge: Path | None, work: Path) -> dict:
    from recommender.data import InteractionDataset
    from recommender.models.config import JointConfig
    from recommender.training import recommender_train, refresh_epochs_default

    scratch = JointConfig() if args.rec_epochs is None else JointConfig(epochs=args.rec_epochs)
    old_side_info = _side_info_without(full.side_info, batch_rows)
    old = InteractionDataset(
        user_ids=full.user_ids, item_ids=full.item_ids, matrix=full.matrix, side_info=old_side_info
    )
    in_side_info = len(full.side_info.kg_triples) - len(old_side_info.kg_triples)
    print(
        f"\n== Recommender: {full.n_users:,} users × {full.n_items:,} items; the batch holds {in_side_info:,} of the "
        f"{len(full.side_info.kg_triples):,} item-side graph triples; entities {len(old_side_info.entity_ids):,} → {len(full.side_info.entity_ids):,}",
        flush=True,
    )

    def run(name: str, **kwargs) -> tuple[dict, object]:
        print(f"\n-- {name}", flush=True)
        started, cpu_started = time.perf_counter(), time.process_time()
        trained = recommender_train(
            seed=args.rec_seed, evaluate_test=True, progress=True, output_dir=work / "recommender", **kwargs
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        training = trained.metrics["training"]
        summary = {
            "epochs_budget": trained.config.epochs,
            "epochs_run": len(training["epoch_losses"]),
            "best_epoch": training["best_epoch"],
            # the whole recommender_train call: split, content vectors (cached), fit, validation + test evaluation, save
            "seconds": round(seconds, 1),
            "cpu_seconds": round(cpu, 1),
            "validation": {
                m: round(trained.metrics["validation"][m], 4) for m in ("recall@10", "ndcg@10", "recall@20")
            },
            "test": {m: round(trained.metrics["test"][m], 4) for m in ("recall@10", "ndcg@10", "recall@20")},
        }
        if training.get("warm_start"):
            warm = training["warm_start"]
            summary["warm_start"] = {
                key: warm.get(key)
                for key in ("users", "items", "entities", "relations", "validation_recall@10_at_start")
            }
            summary["kge_initialisation"] = {
                key: value for key, value in (training.get("kge_initialisation") or {}).items() if key != "artifact"
            }
        print(
            f"{name}: {summary['epochs_run']} epochs (best {summary['best_epoch']}) in {seconds:.1f} s ({cpu:.1f} s CPU); validation recall@10 "
            f"{summary['validation']['recall@10']:.4f}, test recall@10 {summary['test']['recall@10']:.4f}",
            flush=True,
        )
        return summary, trained

    runs = {}
    runs["parent (old graph, from scratch)"], parent = run(
        "parent (old graph, from scratch)", dataset=old, config=scratch
    )
    warm_config = parent.config.with_overrides(epochs=refresh_epochs_default(parent))
    runs["warm start (full graph)"], warm = run(
        "warm start (full graph)",
        dataset=full,
        config=warm_config,
        warm_start_from=parent.path,
        kge_artifact=warm_kge,
    )
    runs["from scratch (full graph)"], scratch_run = run("from scratch (full graph)", dataset=full, config=scratch)
    # the interactions are the same, so all three share one Protocol T split: top-10 lists are comparable
    for name, trained in (("warm start (full graph)", warm), ("from scratch (full graph)", scratch_run)):
        runs[name]["validation_top10_overlap_with_parent"] = round(
            _top10_overlap(trained.model, parent.model, trained.split), 4
        )
    return {
        "model": "leitmotif.joint.v1 (default JointConfig)",
        "protocol": f"Protocol T, seed {args.rec_seed}; validation steers early stopping, test reported only",
        "users": full.n_users,
        "items": full.n_items,
        "interactions": full.n_interactions,
        "item_side_triples": {"old": int(len(old_side_info.kg_triples)), "full": int(len(full.side_info.kg_triples))},
        "entities": {"old": len(old_side_info.entity_ids), "full": len(full.side_info.entity_ids)},
        "runs": runs,
    }


if __name__ == "__main__":
    main()
