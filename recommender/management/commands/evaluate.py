import json

from django.core.management.base import BaseCommand, CommandError

from kg.stores import get_store
from learning_platform.errors import LeitmotifError
from recommender.data import InteractionDataset
from recommender.experiments import PROTOCOLS, experiment_run
from recommender.registry import available_recommenders


class Command(BaseCommand):
    help = (
        "Evaluate recommenders on the Last.FM data with a protocol (T: full-ranking top-K; C: CTR AUC/F1; "
        "sparsity; coldstart) and write reports/<run-id>/ (metrics.json, results.md, plots)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--protocol", required=True, choices=PROTOCOLS)
        parser.add_argument("--models", nargs="+", required=True, help=f"any of: {', '.join(available_recommenders())}")
        parser.add_argument("--seeds", nargs="+", type=int, default=[0])
        parser.add_argument("--ks", nargs="+", type=int, default=[5, 10, 20])
        parser.add_argument("--params", default="{}", help='JSON hyper-parameters per model, e.g. \'{"ease": {"l2": 300}}\'')
        parser.add_argument("--backend", default=None, help="graph store for side information (default: KG_BACKEND)")
        parser.add_argument("--reports-dir", default="reports")
        parser.add_argument("--no-plots", action="store_true")
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument(
            "--torch-threads", type=int, default=1,
            help="torch intra-op threads (default 1: on a small shared machine more threads mostly wait on each other)",
        )
        parser.add_argument(
            "--export-splits", action="store_true",
            help="also write every split used as TSV (user_id, item_id, weight, split) + JSON sidecar under <report>/splits/",
        )

    def handle(self, *args, **opts):
        if opts["torch_threads"] < 1:
            raise CommandError("--torch-threads must be at least 1.")
        import torch

        torch.set_num_threads(opts["torch_threads"])
        try:
            params = json.loads(opts["params"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not valid JSON: {exc}") from None
        if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
            raise CommandError('--params must be a JSON object of objects, e.g. {"ease": {"l2": 300}}.')
        try:
            with get_store(opts["backend"]) as store:
                dataset = InteractionDataset.from_catalog(store=store)
            run = experiment_run(
                dataset=dataset,
                protocol=opts["protocol"],
                models=opts["models"],
                seeds=opts["seeds"],
                ks=opts["ks"],
                model_params=params,
                reports_dir=opts["reports_dir"],
                plots=not opts["no_plots"],
                progress=not opts["no_progress"],
                export_splits=opts["export_splits"],
            )
        except (LeitmotifError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write((run.report_dir / "results.md").read_text())
        self.stdout.write(self.style.SUCCESS(f"Report written to {run.report_dir}"))
