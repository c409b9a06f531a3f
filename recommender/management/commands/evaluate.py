import json

from django.core.management.base import CommandError

from core.errors import LeitmotifError
from core.management import LeitmotifCommand
from kg.stores import get_store
from recommender.data import InteractionDataset
from recommender.experiments import PROTOCOLS, experiment_run
from recommender.registry import available_recommenders
from recommender.reranking import available_rerankers


class Command(LeitmotifCommand):
    help = (
        "Evaluate recommenders on the Last.FM data with a protocol (T: full-ranking top-K; C: CTR AUC/F1; "
        "sparsity; coldstart; onboarding: new learners' sign-up picks, user-level split; requests: generated plain-English requests, "
        "answers checked against the graph by the published model) and write reports/<run-id>/ (metrics.json, results.md, plots). With --rerank "
        "(and/or --units) every model is also evaluated under each re-ranking, with EMS, ERS, ARP, long-tail "
        "share and intra-list diversity beside the accuracy metrics."
    )

    def add_arguments(self, parser):
        parser.add_argument("--protocol", required=True, choices=(*PROTOCOLS, "onboarding", "requests"))
        parser.add_argument(
            "--part",
            choices=("test", "validation"),
            default="test",
            help="onboarding only: score the test learners (report) or the validation learners (for choices)",
        )
        parser.add_argument(
            "--models",
            nargs="+",
            default=None,
            help=f"any of: {', '.join(available_recommenders())} (not used by --protocol requests: it asks the published model)",
        )
        parser.add_argument("--seeds", nargs="+", type=int, default=[0])
        parser.add_argument("--ks", nargs="+", type=int, default=[5, 10, 20])
        parser.add_argument(
            "--params", default="{}", help='JSON hyper-parameters per model, e.g. \'{"ease": {"l2": 300}}\''
        )
        parser.add_argument("--backend", default=None, help="graph store for side information (default: KG_BACKEND)")
        parser.add_argument("--reports-dir", default="reports")
        parser.add_argument("--no-plots", action="store_true")
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument(
            "--torch-threads",
            type=int,
            default=1,
            help="torch intra-op threads (default 1: on a small shared machine more threads mostly wait on each other)",
        )
        parser.add_argument(
            "--export-splits",
            action="store_true",
            help=(
                "also write every split used as TSV (listener_pk, artist_pk, weight, split, lastfm_user_id, "
                "lastfm_artist_id, artist_entity_id) + JSON sidecar under <report>/splits/"
            ),
        )
        parser.add_argument(
            "--rerank",
            nargs="+",
            default=None,
            metavar="NAME[:STRENGTH]",
            help=(
                "re-ranking settings to evaluate for every model, e.g. none popularity:0.5 diversity:0.3 mood:0.5 unit:0.5 "
                f"(strength 0-1; re-rankers: {', '.join(available_rerankers())}). Adds EMS, ERS, ARP, long-tail share and ILD."
            ),
        )
        parser.add_argument(
            "--units",
            nargs="+",
            default=None,
            metavar="CONCEPT_ID",
            help=(
                "concept ids (leitmotif:concept:<slug>) of one unit used for every learner's EMS and the unit re-ranker; "
                "default: each learner's own unit (concepts associated with their most frequent curriculum-linked tags)"
            ),
        )
        parser.add_argument(
            "--max-users",
            type=int,
            default=None,
            help=(
                "top-K protocols (T, sparsity, coldstart): evaluate a seeded sample of at most this many test users "
                "per split instead of all of them (ranking costs users × items); default: every user"
            ),
        )
        parser.add_argument(
            "--pool-size",
            type=int,
            default=None,
            help="candidates handed to a re-ranker per list: max(this, 5*K) (default 100)",
        )

    def handle(self, *args, **opts):
        if opts["torch_threads"] < 1:
            raise CommandError("--torch-threads must be at least 1.")
        if opts["pool_size"] is not None and opts["pool_size"] < 1:
            raise CommandError("--pool-size must be at least 1.")
        if opts["max_users"] is not None:
            if opts["max_users"] < 1:
                raise CommandError("--max-users must be at least 1 (leave it out to evaluate every user).")
            if opts["protocol"] not in ("T", "sparsity", "coldstart") or any(
                opts[name] is not None for name in ("rerank", "units", "pool_size")
            ):
                raise CommandError(
                    "--max-users applies to the top-K protocols T, sparsity and coldstart without --rerank/--units/--pool-size."
                )
        import torch

        torch.set_num_threads(opts["torch_threads"])
        if opts["protocol"] == "requests":
            from recommender.understanding.requests_protocol import requests_report

            try:
                report_dir = requests_report(seed=opts["seeds"][0], reports_dir=opts["reports_dir"])
            except LeitmotifError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write((report_dir / "results.md").read_text())
            self.stdout.write(self.style.SUCCESS(f"Report written to {report_dir}"))
            return
        if not opts["models"]:
            raise CommandError(
                f"--models is required for --protocol {opts['protocol']}: any of {', '.join(available_recommenders())}."
            )
        try:
            params = json.loads(opts["params"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not valid JSON: {exc}") from None
        if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
            raise CommandError('--params must be a JSON object of objects, e.g. {"ease": {"l2": 300}}.')
        reranked = opts["rerank"] is not None or opts["units"] is not None or opts["pool_size"] is not None
        try:
            if reranked:
                from recommender.evaluation.beyond_accuracy import RERANK_PROTOCOLS, reranked_experiment_run
                from recommender.reranking import parse_rerank

                if opts["protocol"] not in RERANK_PROTOCOLS:
                    raise CommandError(
                        f"--rerank/--units need ranked lists: use --protocol {' or '.join(RERANK_PROTOCOLS)} "
                        "(Protocol C only scores labelled pairs)."
                    )
                settings = [str(parse_rerank(s)) for s in (opts["rerank"] or ["none"])]
            with get_store(opts["backend"]) as store:
                dataset = InteractionDataset.from_catalog(store=store)
            common = dict(
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
            if opts["protocol"] == "onboarding":  # --rerank was refused above: not a RERANK_PROTOCOL
                from recommender.evaluation.onboarding import onboarding_run

                common.pop("protocol")
                common.pop("export_splits")
                report_dir = onboarding_run(**common, part=opts["part"]).report_dir
            elif reranked:
                report_dir = reranked_experiment_run(
                    **common, settings=settings, units=opts["units"], minimum_pool=opts["pool_size"]
                ).report_dir
            else:
                report_dir = experiment_run(**common, max_users=opts["max_users"]).report_dir
        except (LeitmotifError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write((report_dir / "results.md").read_text())
        self.stdout.write(self.style.SUCCESS(f"Report written to {report_dir}"))
