"""λ sweep and ablations of Leitmotif's joint recommender on Protocol T (test part, full ranking).

Each variant is the default :class:`~recommender.models.config.JointConfig` as one network
(``ensemble_members=1``) with a few fields changed,
built by name through the same registry the ``evaluate`` command uses, trained on each seed's
Protocol T split (validation for early stopping only) and scored on that split's test part.
Reads the development database (``python manage.py load_lastfm`` first); writes nothing there.
Prints a Markdown table and saves benchmarks/results/recommender_ablations.json.

    .venv/bin/python benchmarks/recommender_ablations.py [--seeds 0 1 2] [--variants full lambda=0 ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

#: Every variant is one network (the default trains an ensemble of three): the ablations measure what a
#: part adds to a network, and three times the runs would not fit a benchmark budget.
SINGLE_NETWORK = {"ensemble_members": 1}
#: name -> JointConfig overrides (on top of SINGLE_NETWORK)
VARIANTS: dict[str, dict] = {
    "full (defaults)": {},
    "λ = 0 (no L_kg)": {"lambda_kg": 0.0},
    "λ = 0.5": {"lambda_kg": 0.5},
    "λ = 5": {"lambda_kg": 5.0},
    "λ = 10": {"lambda_kg": 10.0},
    "without graph": {"use_graph": False},
    "without attention": {"use_attention": False},
    "without content": {"use_content": False},
    "without neighbourhood term": {"use_neighbourhood": False},
    "without cold-item transfer": {"cold_neighbours": 0},
}
METRICS = ("recall@10", "ndcg@10", "recall@20", "ndcg@20")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
    import django

    django.setup()
    import numpy as np
    import torch
    from django.conf import settings
    from tqdm import tqdm

    from benchmarks._common import save_result
    from kg.stores import get_store
    from recommender.data import InteractionDataset
    from recommender.evaluation.evaluator import evaluate_topk
    from recommender.evaluation.splits import protocol_t_split
    from recommender.models.config import JointConfig
    from recommender.registry import build_recommender

    torch.set_num_threads(1)
    with get_store(settings.KG_BACKEND) as store:
        dataset = InteractionDataset.from_catalog(store=store)
    rows = []
    jobs = [(name, seed) for name in args.variants for seed in args.seeds]
    per_variant: dict[str, list[dict]] = {}
    for name, seed in tqdm(jobs, desc="ablations", unit="run"):
        split = protocol_t_split(dataset, seed=seed)
        model = build_recommender("leitmotif", dataset=dataset, params={**SINGLE_NETWORK, **VARIANTS[name]})
        started = time.perf_counter()
        model.fit(split.train_binary(), seed=seed, context=split.training_context(side_info=dataset.side_info))
        fit_seconds = time.perf_counter() - started
        result = evaluate_topk(model, split, ks=(10, 20))
        per_variant.setdefault(name, []).append(
            {"seed": seed, "fit_seconds": round(fit_seconds, 1), **{m: result.metrics[m] for m in METRICS}}
        )
    print("\n| variant | " + " | ".join(METRICS) + " | fit s |")
    print("| --- | " + " | ".join("---" for _ in METRICS) + " | --- |")
    for name, runs in per_variant.items():
        summary = {}
        for metric in METRICS:
            values = np.array([r[metric] for r in runs])
            summary[metric] = {
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)) if len(values) > 1 else None,
            }
        fit = float(np.mean([r["fit_seconds"] for r in runs]))
        rows.append(
            {"variant": name, "overrides": VARIANTS[name], "runs": runs, "summary": summary, "mean_fit_seconds": fit}
        )
        cells = [
            f"{summary[m]['mean']:.4f}" + (f" ± {summary[m]['std']:.4f}" if summary[m]["std"] is not None else "")
            for m in METRICS
        ]
        print(f"| {name} | " + " | ".join(cells) + f" | {fit:.0f} |")
    save_result(
        "recommender_ablations",
        {
            "description": "joint recommender λ sweep and ablations, Protocol T test, full ranking",
            "command": "python benchmarks/recommender_ablations.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "seeds": args.seeds,
            "defaults": JointConfig().with_overrides(**SINGLE_NETWORK).to_dict(),
            "dataset": {"users": dataset.n_users, "items": dataset.n_items, "interactions": dataset.n_interactions},
            "variants": rows,
        },
    )


if __name__ == "__main__":
    main()
