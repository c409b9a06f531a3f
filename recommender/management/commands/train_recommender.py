"""``python manage.py train_recommender``: train Leitmotif's joint KG recommender and save a versioned artifact.

Thin on purpose: the dataset comes from :meth:`recommender.data.InteractionDataset.from_catalog`, the
work is :func:`recommender.training.recommender_train`; this command only turns options into a
:class:`~recommender.models.config.JointConfig`, prints the validation metrics and the artifact path,
and turns a :class:`LeitmotifError` into a one-line ``CommandError``.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from core.errors import ConfigurationError
from core.management import LeitmotifCommand
from kg.embeddings.training import limit_torch_threads
from kg.stores import get_store
from recommender.models.config import JointConfig
from recommender.training import product_dataset, recommender_train

#: Command option → config field, for the options that override a config default only when given.
_OVERRIDES = {
    "epochs": "epochs",
    "lambda_kg": "lambda_kg",
    "kg_interaction": "kg_interaction",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate",
}
REPORTED = ("recall@10", "ndcg@10", "recall@20", "ndcg@20", "hit_rate@10", "coverage@10")


class Command(LeitmotifCommand):
    help = (
        "Train the joint knowledge-graph recommender (L = L_rec + λ·L_kg) on the catalog's listening data "
        "(Protocol T split), print validation metrics and save an artifact under <artifacts>/recommender/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--epochs", type=int, default=None, help="Maximum training epochs (early stopping may end sooner)."
        )
        parser.add_argument("--lambda-kg", type=float, default=None, help="Weight λ of the KG loss (0 = no KG loss).")
        parser.add_argument(
            "--kg-interaction", default=None, choices=["transe", "complex"], help="KG interaction function."
        )
        parser.add_argument("--batch-size", type=int, default=None, help="Training pairs per step.")
        parser.add_argument("--learning-rate", type=float, default=None, help="Adam learning rate.")
        parser.add_argument("--seed", type=int, default=0, help="Seed for the split, initialisation and sampling.")
        parser.add_argument(
            "--kge-artifact",
            type=Path,
            default=None,
            help="KGE artifact directory (train_kge) to initialise the entity vectors.",
        )
        parser.add_argument(
            "--backend", default=None, help="Graph store name, e.g. sql or neo4j (default: settings.KG_BACKEND)."
        )
        parser.add_argument(
            "--no-content", action="store_true", help="Train without the text content part (no sentence encoder)."
        )
        parser.add_argument("--no-graph", action="store_true", help="Train without the graph part (ablation).")
        parser.add_argument(
            "--no-attention", action="store_true", help="Mean-pool the history instead of attention (ablation)."
        )
        parser.add_argument(
            "--report-test",
            action="store_true",
            help="Also compute test metrics (for reporting only; never tune on them).",
        )
        parser.add_argument(
            "--output-dir",
            type=Path,
            default=None,
            help="Folder for recommender artifacts (default: <artifacts>/recommender).",
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bars.")

    def handle(self, *args, **options) -> None:
        backend = options["backend"] or settings.KG_BACKEND
        progress = not options["no_progress"]
        overrides = {field: options[option] for option, field in _OVERRIDES.items() if options[option] is not None}
        overrides.update(
            use_content=not options["no_content"],
            use_graph=not options["no_graph"],
            use_attention=not options["no_attention"],
        )
        limit_torch_threads()
        config = JointConfig().with_overrides(**overrides)
        with get_store(backend) as store:
            try:
                dataset = product_dataset(store=store)
            except ConfigurationError as exc:
                raise CommandError(exc.message) from None
        self.stdout.write(
            f"Training {config.kg_interaction}-joint recommender on {dataset.n_users:,} users × {dataset.n_items:,} items "
            f"({dataset.n_interactions:,} interactions, graph from {backend!r}): λ={config.lambda_kg:g}, "
            f"up to {config.epochs} epochs, seed {options['seed']}."
        )
        trained = recommender_train(
            dataset=dataset,
            config=config,
            seed=options["seed"],
            progress=progress,
            kge_artifact=options["kge_artifact"],
            evaluate_test=options["report_test"],
            output_dir=options["output_dir"],
        )
        training = trained.metrics["training"]
        self.stdout.write(f"Best epoch {training['best_epoch']} ({training['parameters']:,} parameters).")
        for part in ("validation", "test"):
            if part in trained.metrics:
                values = "  ".join(f"{name} {trained.metrics[part][name]:.4f}" for name in REPORTED)
                self.stdout.write(f"{part.capitalize()} (Protocol T, full ranking): {values}")
        self.stdout.write(self.style.SUCCESS(f"Saved the artifact to {trained.path}"))
