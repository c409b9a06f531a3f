"""Onboarding choices on VALIDATION learners only: how strongly picked tags weigh, how tag-only learners are seeded.

Trains the product once on the onboarding protocol's user-level split (seed 0, training listeners only)
and scores the *validation* learners (never the test learners the protocol reports) through the serving
path (:class:`recommender.evaluation.onboarding.ProductOnboarding`) for every setting of the
``recommender.serving.music_ranking`` constants below. The chosen values are the defaults in that module;
``python manage.py evaluate --protocol onboarding`` reports the test learners. Reads the database
``DATABASE_URL`` points at (loaded with ``load_lastfm`` + ``load_courses`` + ``load_curriculum``),
writes nothing to it (each learner's rows are rolled back), and saves benchmarks/results/onboarding_tuning.json.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/onboarding.py [--members 1]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

#: First sweep (rows kept in the JSON of that run): INTEREST_WEIGHT 0.5/1/2/4 × TAG_SHARE_POWER 0.5/1 ×
#: SEED_POPULARITY_POWER 0/1 chose 2, 0.5 and 1. This sweep adds the picked artists' co-listening weight.
GRID = {
    "INTEREST_WEIGHT": [2.0],
    "TAG_SHARE_POWER": [0.5],
    "SEED_POPULARITY_POWER": [1.0],
    "PICK_NEIGHBOUR_WEIGHT": [0.0, 0.5, 1.0, 2.0, 4.0],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1, help="ensemble members of the product while choosing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="onboarding_tuning_2.json", help="file name under benchmarks/results/")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
    import django

    django.setup()
    import torch

    torch.set_num_threads(1)
    from kg.stores import get_store
    from recommender.data import InteractionDataset
    from recommender.evaluation import onboarding as O
    from recommender.explanations import current_snapshot
    from recommender.registry import build_recommender
    from recommender.serving import music_ranking

    with get_store() as store:
        dataset = InteractionDataset.from_catalog(store=store)
    snapshot = current_snapshot()
    assert dataset.side_info is not None and dataset.sources is not None
    split = O.onboarding_split(
        dataset,
        seed=args.seed,
        tag_entities=O.tag_entities_for(dataset.side_info.tag_names),
        instrument_of_tag=O.instruments_of_tags(snapshot),
    )
    model = build_recommender("leitmotif", dataset=dataset, params={"ensemble_members": args.members})
    started = time.perf_counter()
    model.fit(split.train_binary(), seed=args.seed, context=split.training_context(dataset.side_info))
    fit_seconds = time.perf_counter() - started
    serving = O._product_serving(model, dataset, seed=args.seed, name="onboarding-tuning")
    product = O.ProductOnboarding(serving, snapshot, list(dataset.sources.artist_entity_ids))
    rows = []
    defaults = {name: getattr(music_ranking, name) for name in GRID}
    try:
        for values in itertools.product(*GRID.values()):
            setting = dict(zip(GRID, values))
            for name, value in setting.items():
                setattr(music_ranking, name, value)
            row: dict = {"setting": setting}
            for variant in O.VARIANTS:
                result = O.evaluate_onboarding(
                    product, split, model_name="leitmotif", variant=variant, part="validation", ks=(10,)
                )[0]
                row[variant] = {m: round(result.metrics[f"{m}@10"], 4) for m in ("recall", "ndcg")}
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        for name, value in defaults.items():
            setattr(music_ranking, name, value)
    best = max(rows, key=lambda r: r["picks"]["ndcg"] + r["tags_only"]["ndcg"])
    out = {
        "what": "onboarding settings scored on validation learners (seed split), product with --members networks",
        "seed": args.seed,
        "members": args.members,
        "fit_seconds": round(fit_seconds, 1),
        "n_validation_learners": int(split.validation_users.size),
        "rows": rows,
        "best_by_sum_of_ndcg10": best,
    }
    path = REPO / "benchmarks" / "results" / args.output
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print("best:", json.dumps(best))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
