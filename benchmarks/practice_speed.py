"""Practice feedback speed: a 60 s performance (rendered with known mistakes) analysed end to end on one thread.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/practice_speed.py [--repeats 3]

What is timed is :func:`practice.services.analyse_session`'s work without the database: decode, checks,
chroma DTW alignment, Basic Pitch transcription of the performance, note matching, bars and sentences
(:func:`practice.analysis.analyse_performance` + :func:`practice.feedback.feedback_sentences`). The
reference (its rendering and transcription) is built once beforehand, as the product caches it per work.
The first run after start-up also pays the ONNX model load and numba's compilation; it is reported apart.
Prints and saves ``benchmarks/results/practice_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESULTS = Path(__file__).resolve().parent / "results" / "practice_speed.json"
WORK = ("essenFolksong/altdeu10.abc", 1)
SECONDS = 60.0
SEED = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import django

    django.setup()
    import numpy as np
    import torch
    from django.conf import settings

    torch.set_num_threads(1)
    np.random.seed(SEED)
    cache = tempfile.mkdtemp(prefix="practice-bench-")
    settings.LEITMOTIF_CACHE_DIR = cache
    from catalog.models import Work
    from practice import variants
    from practice.analysis import analyse_performance
    from practice.feedback import feedback_sentences
    from practice.reference import load_reference, reference_samples, score_excerpt, work_score

    work = Work(pk=1, slug="bench-altdeu10-1", title="altdeu10 #1", corpus_path=WORK[0], corpus_number=WORK[1])
    started = time.perf_counter()
    reference = load_reference(work, seconds=SECONDS)
    reference_build = time.perf_counter() - started
    excerpt = score_excerpt(work_score(work), seconds=reference.seconds)
    bars = [b.number for b in reference.bars]
    changed, _, _ = variants.with_wrong_pitch(excerpt, bar=bars[len(bars) // 3], semitones=-1)
    changed = variants.with_tempo(
        changed, first_bar=bars[len(bars) // 2], last_bar=bars[len(bars) // 2] + 2, factor=1.15
    )
    rate = int(settings.AUDIO_SAMPLE_RATE)
    samples = variants.render_variant(
        changed, seconds=reference.seconds, out_path=Path(cache) / "performance.flac", sample_rate=rate
    )
    ref_samples = reference_samples(reference)
    timings, cpu_timings, stages = [], [], []
    errors = 0
    for _ in range(args.repeats + 1):
        marks: list[tuple[str, float]] = []

        def mark(fraction: float, stage: str, marks: list[tuple[str, float]] = marks) -> None:
            marks.append((stage, time.process_time()))

        started, cpu_started = time.perf_counter(), time.process_time()
        analysis = analyse_performance(reference, ref_samples, samples, rate, progress=mark)
        feedback_sentences(analysis, title=work.title)
        timings.append(time.perf_counter() - started)
        cpu_timings.append(time.process_time() - cpu_started)
        previous, spent = cpu_started, {}
        for stage, at in marks:
            spent[stage] = round(at - previous, 3)
            previous = at
        stages.append(spent)
        errors = len(analysis.errors)
    result = {
        "work": f"{WORK[0]}#{WORK[1]}",
        "performance_seconds": round(len(samples) / rate, 2),
        "reference_build_seconds": round(reference_build, 3),
        "first_run_seconds": round(timings[0], 3),
        "warm_runs_seconds": [round(t, 3) for t in timings[1:]],
        "warm_median_seconds": round(float(np.median(timings[1:])), 3),
        # CPU seconds of this process: what the analysis costs on one core, whatever else the machine runs.
        "first_run_cpu_seconds": round(cpu_timings[0], 3),
        "warm_runs_cpu_seconds": [round(t, 3) for t in cpu_timings[1:]],
        "warm_median_cpu_seconds": round(float(np.median(cpu_timings[1:])), 3),
        "cpu_seconds_before_each_stage": stages[-1],
        "budget_seconds": 10.0,
        "errors_found": errors,
        "threads": 1,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "load_average": list(os.getloadavg()),
        "seed": SEED,
    }
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
