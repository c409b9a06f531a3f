"""Audio encoder inference time per clip, and what the feature cache saves.

Inputs: the seven shared clips (``librosa-audio-clips``, 5-120 s each) and the newest trained encoder
artifact (``python manage.py train_audio_encoder`` first; pass ``--artifact`` for another). Features go
to a temporary LEITMOTIF_CACHE_DIR, so the developer's cache is neither used nor changed. One torch thread.

Per clip and repeat (``--repeats``, default 5), wall (``perf_counter``) and CPU (``process_time``) seconds of:

* ``features_cold`` – :func:`audio.cache.cached_features` on an empty cache (read, validate,
  decode, log-mel, atomic write); the cache is emptied before each repeat;
* ``features_hit`` – the same call when the entry exists (hash the bytes, load the ``.npy``);
* ``encoder`` – :func:`audio.encoder.service.predict_vector`: the encoder over ``eval_crops`` crops;
* ``cold_start_hit`` – the whole :func:`audio.encoder.service.cold_start` with a feature-cache hit
  (features + encoder + neighbour ranking + similar works), what a repeated upload costs.

Reports p50/p95 over all clips × repeats. The first call of each kind is a warm-up and not counted.

    .venv/bin/python benchmarks/audio_encoder_speed.py [--repeats 5] [--artifact PATH]

Writes benchmarks/results/audio_encoder_speed.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._common import data_dir, percentile, save_result


def timed(function, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--artifact", type=Path, default=None, help="Encoder artifact (default: newest under the artifacts folder)."
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="leitmotif-encoder-speed-"))
    os.environ["LEITMOTIF_CACHE_DIR"] = str(scratch)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
    import django

    django.setup()
    import torch

    torch.set_num_threads(1)
    from audio.cache import cached_features, feature_cache_dir
    from audio.encoder.artifacts import load_audio_encoder
    from audio.encoder.service import cold_start, encoder_mel_config, predict_vector

    encoder = load_audio_encoder(args.artifact)
    config = encoder_mel_config(encoder)
    clips = sorted((data_dir() / "librosa-audio-clips").glob("*.ogg"))
    samples: dict[str, list[tuple[float, float]]] = {
        "features_cold": [],
        "features_hit": [],
        "encoder": [],
        "cold_start_hit": [],
    }
    per_clip = []
    try:
        # warm-up: imports, first librosa/soxr calls, torch kernels
        found = cached_features(clips[0], config)
        predict_vector(encoder, found.mel)
        cold_start(clips[0], encoder=encoder)
        for clip in clips:
            durations = None
            for _ in range(args.repeats):
                shutil.rmtree(feature_cache_dir(), ignore_errors=True)
                found, wall, cpu = timed(cached_features, clip, config)
                assert not found.hit
                samples["features_cold"].append((wall, cpu))
                found, wall, cpu = timed(cached_features, clip, config)
                assert found.hit
                samples["features_hit"].append((wall, cpu))
                _, wall, cpu = timed(predict_vector, encoder, found.mel)
                samples["encoder"].append((wall, cpu))
                result, wall, cpu = timed(cold_start, clip, encoder=encoder)
                assert result.feature_cache_hit
                samples["cold_start_hit"].append((wall, cpu))
                durations = found.info["duration_seconds"]
            per_clip.append({"clip": clip.name, "seconds_of_audio": durations})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    summary = {}
    for name, values in samples.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        summary[name] = {
            "n": len(values),
            "wall_p50_ms": percentile([w * 1e3 for w in walls], 50, digits=2),
            "wall_p95_ms": percentile([w * 1e3 for w in walls], 95, digits=2),
            "cpu_p50_ms": percentile([c * 1e3 for c in cpus], 50, digits=2),
            "cpu_p95_ms": percentile([c * 1e3 for c in cpus], 95, digits=2),
        }
    print(
        f"encoder {encoder.version} ({encoder.config.variant}, {encoder.config.eval_crops} crops of {encoder.config.crop_seconds:g} s), "
        f"{len(clips)} clips x {args.repeats} repeats, 1 torch thread"
    )
    print(f"{'step':16s}{'wall p50':>10s}{'wall p95':>10s}{'cpu p50':>10s}{'cpu p95':>10s}  (ms)")
    for name, row in summary.items():
        print(
            f"{name:16s}{row['wall_p50_ms']:>10.1f}{row['wall_p95_ms']:>10.1f}{row['cpu_p50_ms']:>10.1f}{row['cpu_p95_ms']:>10.1f}"
        )
    save_result(
        "audio_encoder_speed",
        {
            "command": "python benchmarks/audio_encoder_speed.py " + " ".join(sys.argv[1:]),
            "encoder": {
                "version": encoder.version,
                "variant": encoder.config.variant,
                "eval_crops": encoder.config.eval_crops,
                "crop_seconds": encoder.config.crop_seconds,
                "parameters": int(sum(p.numel() for p in encoder.model.parameters())),
            },
            "clips": per_clip,
            "repeats": args.repeats,
            "torch_threads": 1,
            "summary": summary,
        },
    )


if __name__ == "__main__":
    main()
