"""``python manage.py train_hfn [--preset default|quick|tiny] [--variant hfn] [--works N] [--seed S]``.

Thin on purpose: the generated data set is :mod:`practice.hfn.dataset` (cached under
``<LEITMOTIF_CACHE_DIR>/practice/``), training :mod:`practice.hfn.training`, saving
:mod:`practice.hfn.artifacts`. Prints the test metrics (works never seen in training) and the artifact path.
"""

from __future__ import annotations

from typing import Any

import torch
from django.core.management.base import CommandParser

from core.management import LeitmotifCommand
from practice.hfn.artifacts import save_hfn
from practice.hfn.config import PRESETS, VARIANTS, preset
from practice.hfn.dataset import build_dataset
from practice.hfn.training import train_hfn
from practice.synthesis import FEEDBACK_DIMENSIONS


class Command(LeitmotifCommand):
    help = (
        "Train the HFN (practice feedback from a performance's spectrogram and emotional factors) on generated "
        "performances of corpus works with recorded mistakes; test on held-out works; save an artifact under "
        "<artifacts>/practice/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--preset", default="default", choices=sorted(PRESETS), help="Base configuration.")
        parser.add_argument(
            "--variant", default=None, choices=VARIANTS.names(), help="hfn.attention.v1 (default) or the ablation."
        )
        parser.add_argument("--works", type=int, default=None, help="Number of corpus works (split by work).")
        parser.add_argument("--takes", type=int, default=None, help="Generated performances per work.")
        parser.add_argument("--epochs", type=int, default=None, help="Maximum epochs (early stopping on validation).")
        parser.add_argument("--seed", type=int, default=None, help="Seed of the data, split and training.")
        parser.add_argument("--no-progress", action="store_true", help="Print only the result.")

    def handle(self, *args: Any, **options: Any) -> None:
        torch.set_num_threads(1)
        overrides = {
            key: options[option]
            for key, option in (
                ("variant", "variant"),
                ("works", "works"),
                ("takes_per_work", "takes"),
                ("epochs", "epochs"),
                ("seed", "seed"),
            )
            if options[option] is not None
        }
        config = preset(options["preset"], **overrides)

        def say(message: str) -> None:
            if not options["no_progress"]:
                self.stdout.write(message)

        dataset = build_dataset(config, progress=say)
        trained = train_hfn(config, dataset, progress=say)
        path = save_hfn(trained)
        test = trained.metrics.get("test", {})
        for name in FEEDBACK_DIMENSIONS:
            if name in test:
                self.stdout.write(
                    f"{name:>13}: accuracy {test[name]['accuracy']:.3f}  macro-F1 {test[name]['macro_f1']:.3f}"
                )
        if "affect" in test:
            affect = test["affect"]
            self.stdout.write(
                f"valence MSE {affect['valence']['mse']:.3f} r {affect['valence']['pearson']:.3f}; "
                f"arousal MSE {affect['arousal']['mse']:.3f} r {affect['arousal']['pearson']:.3f}"
            )
        self.stdout.write(self.style.SUCCESS(f"Saved {path}"))
