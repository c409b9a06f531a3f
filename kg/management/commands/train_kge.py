"""``python manage.py train_kge``: train TransE/ComplEx on the knowledge graph and save a versioned artifact.

``--from-checkpoint [ARTIFACT|latest]`` refreshes instead of starting from scratch: the parent's vectors
are kept for every entity and relation it knew, new ones are appended, and a few epochs (``--epochs``,
default a fifth of the from-scratch run) train on the current graph (:mod:`kg.embeddings.warm_start`).

Thin on purpose: reading triples is :mod:`kg.embeddings.sources`, training and evaluation
:mod:`kg.embeddings.training` and :mod:`kg.embeddings.warm_start`, saving :mod:`kg.embeddings.artifacts`.
This command only builds the config from its options, picks the store, prints the metrics and the
artifact path, and turns a :class:`LeitmotifError` into a one-line ``CommandError``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from core.errors import DataFileError
from core.management import LeitmotifCommand
from kg.embeddings.artifacts import (
    kge_artifacts_dir,
    latest_artifact,
    list_kge_artifacts,
    load_kge_artifact,
    save_kge_artifact,
)
from kg.embeddings.config import KgeConfig, available_models, model_spec
from kg.embeddings.sources import interaction_triples_from_catalog, triples_from_store
from kg.embeddings.training import KgeResult, kge_train
from kg.embeddings.warm_start import kge_refresh
from kg.stores import get_store

#: Command option → config field, for the options that override a config default only when given.
_OVERRIDES = {
    "epochs": "epochs",
    "dim": "embedding_dim",
    "seed": "seed",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate",
    "negatives": "negatives_per_positive",
}


class Command(LeitmotifCommand):
    help = (
        "Train knowledge-graph embeddings (TransE or ComplEx, PyKEEN) on the graph store's triples, report "
        "filtered MRR and Hits@1/3/10 on a held-out 10% of the triples, and save an artifact under "
        "<artifacts>/kge/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--model",
            default=None,
            choices=available_models(),
            help="Embedding model (required unless --from-checkpoint).",
        )
        parser.add_argument(
            "--from-checkpoint",
            nargs="?",
            const="latest",
            default=None,
            metavar="ARTIFACT|latest",
            help="Warm-start from a saved artifact (a path, a directory name under the KGE folder, or 'latest' = the newest "
            "one, of --model if given) instead of training from scratch; --epochs then defaults to a fifth of the "
            "from-scratch epochs.",
        )
        parser.add_argument("--epochs", type=int, default=None, help="Training epochs (default from KgeConfig).")
        parser.add_argument(
            "--dim",
            type=int,
            default=None,
            help="Embedding dimension (ComplEx vectors are exported with 2×dim real columns).",
        )
        parser.add_argument("--seed", type=int, default=None, help="Seed for the split, initialisation and sampling.")
        parser.add_argument("--batch-size", type=int, default=None, help="Training batch size.")
        parser.add_argument("--learning-rate", type=float, default=None, help="Adam learning rate.")
        parser.add_argument("--negatives", type=int, default=None, help="Negative samples per positive triple.")
        parser.add_argument(
            "--include-interactions",
            action="store_true",
            help="Add (user:<listener id>, INTERACTS, <artist entity>) edges from the catalog's listens to training.",
        )
        parser.add_argument(
            "--backend", default=None, help="Graph store name, e.g. sql or neo4j (default: settings.KG_BACKEND)."
        )
        parser.add_argument(
            "--output-dir", type=Path, default=None, help="Folder for KGE artifacts (default: <artifacts>/kge)."
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bars.")

    def handle(self, *args, **options) -> None:
        backend = options["backend"] or settings.KG_BACKEND
        progress = not options["no_progress"]
        overrides = {field: options[option] for option, field in _OVERRIDES.items() if options[option] is not None}
        if options["from_checkpoint"] is not None:
            self._refresh(options, backend=backend, progress=progress, overrides=overrides)
            return
        if options["model"] is None:
            raise CommandError("Give --model (transe or complex), or --from-checkpoint to refresh a saved artifact.")
        config = KgeConfig(model=options["model"], include_interactions=options["include_interactions"], **overrides)
        triples, interactions = self._read_triples(
            backend=backend, include_interactions=config.include_interactions, progress=progress
        )
        self.stdout.write(
            f"Training {config.spec.pykeen_model} ({config.model}) on {len(triples):,} triples from {backend!r}"
            + (f" + {len(interactions):,} interaction triples" if interactions is not None else "")
            + f": dim {config.embedding_dim}, {config.epochs} epochs, seed {config.seed}."
        )
        result = kge_train(triples=triples, config=config, progress=progress, interaction_triples=interactions)
        path = save_kge_artifact(result=result, directory=options["output_dir"])
        self._print_result(result)
        self.stdout.write(self.style.SUCCESS(f"Saved the artifact to {path}"))

    def _read_triples(
        self, *, backend: str, include_interactions: bool, progress: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        with get_store(backend) as store:
            triples = triples_from_store(store=store, progress=progress)
        if len(triples) == 0:
            raise CommandError(
                f"The knowledge graph in the {backend!r} store is empty; run `python manage.py load_lastfm` first."
            )
        if not include_interactions:
            return triples, None
        interactions = interaction_triples_from_catalog(artist_entity_ids=set(triples[:, 0]) | set(triples[:, 2]))
        if len(interactions) == 0:
            raise CommandError(
                "--include-interactions needs listening data for artists in the graph, and there is none; "
                "run `python manage.py load_lastfm` first."
            )
        return triples, interactions

    def _refresh(self, options, *, backend: str, progress: bool, overrides: dict) -> None:
        parent = load_kge_artifact(
            self._checkpoint_path(options["from_checkpoint"], model=options["model"], directory=options["output_dir"])
        )
        if options["model"] is not None and model_spec(options["model"]).name != parent.config.model:
            raise CommandError(
                f"--model {options['model']} does not match the checkpoint {parent.path.name} ({parent.config.spec.alias}); leave --model out to refresh it."
            )
        if "embedding_dim" in overrides and overrides.pop("embedding_dim") != parent.config.embedding_dim:
            raise CommandError(
                f"--dim cannot change when refreshing: the checkpoint {parent.path.name} has dim {parent.config.embedding_dim}."
            )
        if options["include_interactions"] and not parent.config.include_interactions:
            raise CommandError(
                f"The checkpoint {parent.path.name} was trained without interactions; train from scratch with --include-interactions."
            )
        epochs = overrides.pop("epochs", None)
        triples, interactions = self._read_triples(
            backend=backend, include_interactions=parent.config.include_interactions, progress=progress
        )
        self.stdout.write(f"Refreshing {parent.path.name} on {len(triples):,} triples from {backend!r}.")
        refresh = kge_refresh(
            parent=parent,
            triples=triples,
            interaction_triples=interactions,
            epochs=epochs,
            progress=progress,
            **overrides,
        )
        path = save_kge_artifact(result=refresh.result, directory=options["output_dir"], lineage=refresh.lineage())
        change = refresh.change
        self.stdout.write(
            f"Graph change since the checkpoint: {change.new_entities:,} new entities, {change.new_relations:,} new relations, "
            f"{change.new_triples:,} new and {change.removed_triples:,} removed triples; {refresh.result.config.epochs} warm epochs."
        )
        self._print_result(refresh.result)
        self.stdout.write(self.style.SUCCESS(f"Saved the artifact to {path} (parent {parent.path.name})"))

    @staticmethod
    def _checkpoint_path(checkpoint: str, *, model: str | None, directory: Path | None) -> Path:
        """``latest`` (of ``model`` if given), a path, or a directory name inside the KGE artifacts folder."""
        if checkpoint == "latest":
            if model is not None:
                return latest_artifact(model, directory=directory)
            found = list_kge_artifacts(None, directory=directory)
            if not found:
                raise DataFileError(
                    "No embedding artifact yet; train one with `python manage.py train_kge --model transe`.",
                    path=str(kge_artifacts_dir(directory)),
                )
            return found[-1]  # oldest first, by the UTC timestamp in the name
        path = Path(checkpoint)
        if not path.exists() and (kge_artifacts_dir(directory) / checkpoint).is_dir():
            path = kge_artifacts_dir(directory) / checkpoint
        return path

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
