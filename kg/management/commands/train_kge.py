"""``python manage.py train_kge``: train TransE/ComplEx on the knowledge graph and save a versioned artifact.

Thin on purpose: reading triples is :mod:`kg.embeddings.sources`, training and evaluation
:mod:`kg.embeddings.training`, saving :mod:`kg.embeddings.artifacts`. This command only builds the
config from its options, picks the store, prints the metrics and the artifact path, and turns a
:class:`LeitmotifError` into a one-line ``CommandError``.
"""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kg.embeddings.artifacts import save_kge_artifact
from kg.embeddings.config import KgeConfig, available_models
from kg.embeddings.sources import interaction_triples_from_catalog, triples_from_store
from kg.embeddings.training import KgeResult, kge_train
from kg.stores import get_store
from learning_platform.errors import LeitmotifError

#: Command option → config field, for the options that override a config default only when given.
_OVERRIDES = {
    "epochs": "epochs",
    "dim": "embedding_dim",
    "seed": "seed",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate",
    "negatives": "negatives_per_positive",
}


class Command(BaseCommand):
    help = (
        "Train knowledge-graph embeddings (TransE or ComplEx, PyKEEN) on the graph store's triples, report "
        "filtered MRR and Hits@1/3/10 on a held-out 10% of the triples, and save an artifact under "
        "<artifacts>/kge/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", required=True, choices=available_models(), help="Embedding model.")
        parser.add_argument("--epochs", type=int, default=None, help="Training epochs (default from KgeConfig).")
        parser.add_argument("--dim", type=int, default=None, help="Embedding dimension (ComplEx vectors are exported with 2×dim real columns).")
        parser.add_argument("--seed", type=int, default=None, help="Seed for the split, initialisation and sampling.")
        parser.add_argument("--batch-size", type=int, default=None, help="Training batch size.")
        parser.add_argument("--learning-rate", type=float, default=None, help="Adam learning rate.")
        parser.add_argument("--negatives", type=int, default=None, help="Negative samples per positive triple.")
        parser.add_argument(
            "--include-interactions",
            action="store_true",
            help="Add (user:<listener id>, INTERACTS, <artist entity>) edges from the catalog's listens to training.",
        )
        parser.add_argument("--backend", default=None, help="Graph store name, e.g. sql or neo4j (default: settings.KG_BACKEND).")
        parser.add_argument("--output-dir", type=Path, default=None, help="Folder for KGE artifacts (default: <artifacts>/kge).")
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bars.")

    def handle(self, *args, **options) -> None:
        backend = options["backend"] or settings.KG_BACKEND
        progress = not options["no_progress"]
        overrides = {field: options[option] for option, field in _OVERRIDES.items() if options[option] is not None}
        try:
            config = KgeConfig(model=options["model"], include_interactions=options["include_interactions"], **overrides)
            with get_store(backend) as store:
                triples = triples_from_store(store=store, progress=progress)
            if len(triples) == 0:
                raise CommandError(
                    f"The knowledge graph in the {backend!r} store is empty; run `python manage.py load_lastfm` first."
                )
            interactions = None
            if config.include_interactions:
                interactions = interaction_triples_from_catalog(artist_entity_ids=set(triples[:, 0]) | set(triples[:, 2]))
                if len(interactions) == 0:
                    raise CommandError(
                        "--include-interactions needs listening data for artists in the graph, and there is none; "
                        "run `python manage.py load_lastfm` first."
                    )
            self.stdout.write(
                f"Training {config.spec.pykeen_model} ({config.model}) on {len(triples):,} triples from {backend!r}"
                + (f" + {len(interactions):,} interaction triples" if interactions is not None else "")
                + f": dim {config.embedding_dim}, {config.epochs} epochs, seed {config.seed}."
            )
            result = kge_train(triples=triples, config=config, progress=progress, interaction_triples=interactions)
            path = save_kge_artifact(result=result, directory=options["output_dir"])
        except LeitmotifError as exc:
            raise CommandError(str(exc).replace("\n", " ")) from None
        self._print_result(result)
        self.stdout.write(self.style.SUCCESS(f"Saved the artifact to {path}"))

    def _print_result(self, result: KgeResult) -> None:
        sizes = result.split_sizes
        self.stdout.write(
            f"Split: {sizes['training']:,} training / {sizes['validation']:,} validation / {sizes['testing']:,} test triples, "
            f"{sizes['entities']:,} entities, {sizes['relations']:,} relations; "
            f"{result.epochs_trained} epochs in {result.training_seconds:.1f} s."
        )
        m = result.metrics
        self.stdout.write(
            f"Test ({m.protocol}, {m.num_triples:,} triples): MRR {m.mrr:.4f}  Hits@1 {m.hits_at_1:.4f}  "
            f"Hits@3 {m.hits_at_3:.4f}  Hits@10 {m.hits_at_10:.4f}"
        )
