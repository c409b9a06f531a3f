"""``python manage.py train_audio_encoder [--variant fused] [--epochs N] [--seed S] [--target kge]``.

Thin on purpose: examples, training and evaluation are :mod:`audio.encoder.training`, saving
:mod:`audio.encoder.artifacts`. Prints validation/test metrics and the artifact path; a
:class:`LeitmotifError` becomes a one-line ``CommandError``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandParser

from audio.encoder.artifacts import save_audio_encoder
from audio.encoder.config import AudioEncoderConfig
from audio.encoder.model import available_variants
from audio.encoder.targets import TARGETS
from audio.encoder.training import train_audio_encoder
from core.management import LeitmotifCommand
from kg.stores import get_store


class Command(LeitmotifCommand):
    help = (
        "Train an audio encoder (log-mel crop [+ side information] → the work's vector in the target space, by default its "
        "TransE graph embedding) on the catalogue's works, evaluate on held-out works and save an artifact under "
        "<artifacts>/audio/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = AudioEncoderConfig()
        parser.add_argument(
            "--variant",
            default=defaults.variant,
            choices=available_variants(),
            help=f"Encoder variant (default {defaults.variant}).",
        )
        parser.add_argument(
            "--target", default=defaults.target, choices=sorted(TARGETS), help="Target space (default kge)."
        )
        parser.add_argument(
            "--kge-model",
            default=defaults.kge_model,
            help="KGE model whose newest artifact is the target (default transe).",
        )
        parser.add_argument(
            "--kge-artifact", default=None, help="Explicit KGE artifact directory instead of the newest one."
        )
        parser.add_argument(
            "--epochs",
            type=int,
            default=defaults.epochs,
            help=f"Maximum epochs (early stopping on validation; default {defaults.epochs}).",
        )
        parser.add_argument(
            "--patience",
            type=int,
            default=defaults.patience,
            help=f"Epochs without validation improvement before stopping (default {defaults.patience}).",
        )
        parser.add_argument(
            "--seed", type=int, default=defaults.seed, help="Seed of the split, initialisation and crops."
        )
        parser.add_argument(
            "--crop-seconds",
            type=float,
            default=defaults.crop_seconds,
            help=f"Crop length in seconds (default {defaults.crop_seconds:g}).",
        )
        parser.add_argument("--backend", default=None, help="Graph store name (default: settings.KG_BACKEND).")
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bars.")

    def handle(self, *args, **options) -> None:
        config = AudioEncoderConfig(
            variant=options["variant"],
            target=options["target"],
            kge_model=options["kge_model"],
            kge_artifact=options["kge_artifact"],
            epochs=options["epochs"],
            patience=options["patience"],
            seed=options["seed"],
            crop_seconds=options["crop_seconds"],
        )
        with get_store(options["backend"] or settings.KG_BACKEND) as store:
            trained = train_audio_encoder(config=config, store=store, progress=not options["no_progress"])
        path = save_audio_encoder(trained=trained)
        metrics = trained.metrics
        works = metrics["works"]
        write = self.stdout.write
        write(
            f"Works: {works['train']} train, {works['validation']} validation, {works['test']} test "
            f"({works['without_target_vector']} without a target vector, {len(works['skipped'])} skipped)."
        )
        write(
            f"Best epoch {metrics['best_epoch']} of {metrics['epochs_run']}; {metrics['wall_seconds']} s wall, {metrics['cpu_seconds']} s CPU."
        )
        for part in ("validation", "test"):
            m = metrics[part]
            hits = "; ".join(
                f"{name} Hits@1/5/10 {row.get('hits@1', 0):.2f}/{row.get('hits@5', 0):.2f}/{row.get('hits@10', 0):.2f} (n={row['evaluated']}, {row['candidates']} candidates)"
                for name, row in m["hits"].items()
            )
            write(f"{part}: MSE {m['mse']:.5f} RMSE {m['rmse']:.4f} MAE {m['mae']:.4f} MSLE {m['msle']:.6f}; {hits}")
        if metrics["uses_side_information"]:
            write(
                self.style.WARNING(
                    f"This variant reads side information ({', '.join(metrics['side_fields'])}) as input: its Hits@k on those fields "
                    "measure recall of inputs, not recognition from audio."
                )
            )
        self.stdout.write(self.style.SUCCESS(f"Saved the audio encoder to {path}"))
