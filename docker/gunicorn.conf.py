"""gunicorn settings for serving Leitmotif (the Dockerfile's CMD and ``benchmarks/api_latency.py`` use it).

Why one torch and BLAS thread per worker: a recommendation is a few small matrix products. With the
libraries' default of one thread per core, N workers on N cores start N×N threads that fight for the
same cores; measured with 2 workers and 8 clients this gave 27 recommendations/s at p50 296 ms, against
75/s at p50 104 ms with one thread per worker. Scale with more workers (one per core), not threads.

Several workers, one published model: every worker is its own process with its own caches (the published
model, the graph snapshot, the course table …); nothing is shared but the ``PUBLISHED`` pointer and the
database. Each worker re-checks the pointer on every request that uses the model and swaps to a newly
published one by itself (``recommender/serving/model_holder.py``); ``tests/learning_platform/
test_gunicorn_workers.py`` starts this configuration with two workers, publishes a second model while it
serves and checks every worker moves to it without one failed request. So that this is observable:

* each worker loads and warms the published model right after it boots (``post_worker_init``), so its
  first request is as fast as the rest and a broken artifact shows in the log at once;
* a response that used the recommender says which model answered in ``X-Leitmotif-Model-Version`` (the
  artifact's name: a timestamp and a short hash, nothing secret);
* with ``GUNICORN_WORKER_HEADER=true`` (tests, debugging) every response also names the worker process
  in ``X-Leitmotif-Worker`` (off by default: a pid is of no use to clients).

Every setting can be overridden from the environment (``GUNICORN_BIND``, ``GUNICORN_WORKERS``,
``GUNICORN_TIMEOUT``) or on the command line.
"""

import logging
import os

# Set before any worker imports numpy or torch (the master does not load the app: no preload).
for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_variable] = "1"

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
# No preload_app: each worker imports Django and opens its own database connections after the fork.

MODEL_HEADER = "X-Leitmotif-Model-Version"
WORKER_HEADER = "X-Leitmotif-Worker"


def post_fork(server, worker):  # gunicorn hook signature
    """Each worker: one torch thread (intra- and inter-op), whatever the machine's core count."""
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


def post_worker_init(worker):  # gunicorn hook: the worker's WSGI app is loaded, no request served yet
    """Wrap the app with the serving headers, then load and warm the published model (if any) before serving."""
    worker.wsgi = serving_headers(
        worker.wsgi, worker_header=os.environ.get("GUNICORN_WORKER_HEADER", "").lower() in {"1", "true", "yes"}
    )
    from django.db import connections

    from core.errors import LeitmotifError
    from recommender.serving.model_holder import model_holder

    try:
        model = model_holder().current()
        worker.log.info("worker %s warmed recommender %s", os.getpid(), model.name)
    except LeitmotifError as exc:  # nothing published yet: requests say so (503) until something is
        worker.log.warning("worker %s starts without a recommender: %s", os.getpid(), exc.message)
    except Exception:  # a warm-up failure must not stop the worker; the first request tries again
        logging.getLogger(__name__).exception("worker %s could not warm the recommender", os.getpid())
    finally:
        connections.close_all()  # opened outside a request: do not carry them into the first one


def serving_headers(app, *, worker_header: bool = False):
    """``app`` plus ``X-Leitmotif-Model-Version`` on responses that used the recommender (and the worker pid if asked)."""
    from recommender.serving.model_holder import served_model_forget, served_model_name

    pid = str(os.getpid())

    def application(environ, start_response):
        served_model_forget()  # the sync worker serves one request at a time per thread: start clean

        def start(status, headers, exc_info=None):
            name = served_model_name()
            if name:
                headers.append((MODEL_HEADER, name))
            if worker_header:
                headers.append((WORKER_HEADER, pid))
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return application
