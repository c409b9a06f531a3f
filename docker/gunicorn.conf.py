"""gunicorn settings for serving Leitmotif (the Dockerfile's CMD and ``benchmarks/api_latency.py`` use it).

Why one torch and BLAS thread per worker: a recommendation is a few small matrix products. With the
libraries' default of one thread per core, N workers on N cores start N×N threads that fight for the
same cores; measured with 2 workers and 8 clients this gave 27 recommendations/s at p50 296 ms, against
75/s at p50 104 ms with one thread per worker. Scale with more workers (one per core), not threads.

Every setting can be overridden from the environment (``GUNICORN_BIND``, ``GUNICORN_WORKERS``,
``GUNICORN_TIMEOUT``) or on the command line.
"""

import os

# Set before any worker imports numpy or torch (the master does not load the app: no preload).
for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_variable] = "1"

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))


def post_fork(server, worker):  # gunicorn hook signature
    """Each worker: one torch thread (intra- and inter-op), whatever the machine's core count."""
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
