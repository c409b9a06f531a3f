"""TransE and ComplEx on the Last.FM KGCN knowledge graph (shared/data/lastfm-kgcn/kg.txt).

Reads the 15,518 triples directly from the file (head, relation, tail labels exactly as given: anonymous
integer entities and 60 Freebase predicates), holds out a seeded 80/10/10 split with shared id maps
(every validation/test entity also occurs in training), trains each model and reports filtered MRR and
Hits@1/3/10 on the test part. Writes benchmarks/results/kge_lastfm.json.

    .venv/bin/python benchmarks/kge_lastfm.py [--epochs N] [--dim D] [--models transe complex]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kg.embeddings.benchmarking import add_benchmark_arguments, benchmark_configs, run_kge_benchmark  # noqa: E402
from kg.embeddings.sources import KGCN_KG_FILE, read_kgcn_triples  # noqa: E402
from kg.embeddings.triples import split_labeled_triples  # noqa: E402

#: Up to 100 epochs, stopped early when the filtered validation MRR (checked every 10 epochs) stops improving.
DEFAULTS = {
    "transe": dict(
        embedding_dim=64,
        epochs=100,
        batch_size=512,
        learning_rate=0.01,
        negatives_per_positive=4,
        early_stopping=True,
        early_stopping_frequency=10,
        early_stopping_patience=2,
    ),
    "complex": dict(
        embedding_dim=64,
        epochs=100,
        batch_size=512,
        learning_rate=0.01,
        negatives_per_positive=4,
        early_stopping=True,
        early_stopping_frequency=10,
        early_stopping_patience=2,
    ),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kg-file", type=Path, default=REPO.parent / "shared" / "data" / KGCN_KG_FILE)
    add_benchmark_arguments(parser, defaults=DEFAULTS, output=REPO / "benchmarks" / "results" / "kge_lastfm.json")
    args = parser.parse_args(argv)

    triples = read_kgcn_triples(args.kg_file)
    configs = benchmark_configs(args, defaults=DEFAULTS)
    # One split for all models (same ratios and seed), so their numbers are comparable.
    split = split_labeled_triples(triples=triples, ratios=configs[0].split_ratios, seed=args.seed)
    print(f"Read {len(triples):,} triples from {args.kg_file}; split {split.sizes()}", flush=True)
    run_kge_benchmark(
        name="lastfm-kgcn",
        split=split,
        configs=configs,
        notes={
            "split": f"seeded random {list(configs[0].split_ratios)} split of kg.txt (PyKEEN cleanup: evaluation entities all occur in training)"
        },
        output=args.output,
        progress=not args.no_progress,
    )


if __name__ == "__main__":
    main()
