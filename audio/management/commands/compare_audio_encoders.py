"""``python manage.py compare_audio_encoders [--seeds 0 1 2]``: every encoder variant on the same split.

Thin on purpose: :func:`audio.encoder.comparison.compare_encoders` does the work. Writes
``benchmarks/results/audio_encoders.json`` (or ``--output``) and prints a Markdown table (mean ± std
over the seeds, test works).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandParser

from audio.encoder.comparison import ROWS, compare_encoders, markdown_table
from audio.encoder.config import AudioEncoderConfig
from core.artifacts import write_json
from core.management import LeitmotifCommand
from kg.stores import get_store

DEFAULT_OUTPUT = Path(settings.BASE_DIR) / "benchmarks" / "results" / "audio_encoders.json"


class Command(LeitmotifCommand):
    help = "Train every audio encoder variant on the same works and split (per seed) and report MSE/RMSE/MAE/MSLE and Hits@1/5/10."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seeds", type=int, nargs="+", default=[0, 1, 2], help="Seeds (each: a split and an initialisation)."
        )
        parser.add_argument(
            "--rows", nargs="+", default=None, choices=list(ROWS), help="Only these rows (default: all)."
        )
        parser.add_argument(
            "--epochs", type=int, default=None, help="Maximum epochs per run (default from the config)."
        )
        parser.add_argument(
            "--kge-artifact", default=None, help="KGE artifact for the target (default: newest TransE)."
        )
        parser.add_argument(
            "--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON results file (default {DEFAULT_OUTPUT})."
        )
        parser.add_argument("--backend", default=None, help="Graph store name (default: settings.KG_BACKEND).")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options) -> None:
        overrides = {"epochs": options["epochs"]} if options["epochs"] else {}
        base = AudioEncoderConfig(kge_artifact=options["kge_artifact"], **overrides)
        with get_store(options["backend"] or settings.KG_BACKEND) as store:
            result = compare_encoders(
                base=base,
                seeds=options["seeds"],
                store=store,
                rows=options["rows"],
                progress=not options["no_progress"],
            )
        options["output"].parent.mkdir(parents=True, exist_ok=True)
        write_json(options["output"], result)
        self.stdout.write(markdown_table(result))
        self.stdout.write(
            f"\n{result['works']['with_audio']} works; test works per seed: {result['runs'][result['rows'][0]][0]['works']['test']}. "
            f"Hits ranking: {result['hits_ranking']}. Wrote {options['output']} in {result['wall_seconds']} s."
        )
