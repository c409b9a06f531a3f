"""Log-mel feature extraction throughput, cold and from the content-hash cache.

Inputs: the seven shared clips (``librosa-audio-clips``, Ogg Vorbis, 445 s in all) and ``--works``
music21 works rendered here with FluidSynth (``--seconds`` each, FLAC), so the benchmark needs no loaded
database and never touches the developer's cache: everything goes to a temporary LEITMOTIF_CACHE_DIR
and a scratch SQLite database.

Measures, in seconds of audio per second of CPU of this process (``time.process_time``):

* ``cold``: :func:`audio.cache.cached_features` on an empty cache (read, validate, decode,
  resample if needed, log-mel, atomic write), repeated ``--repeats`` times on a fresh cache each time
  (median and best reported);
* ``cold_split``: the same work split into ``load_audio`` (read + validate + decode) and ``log_mel``;
* ``hit``: the second call (hash the bytes, load the ``.npy``), also ``--repeats`` times;
* ``render``: how long FluidSynth took for the works (wall seconds, and CPU of the ``fluidsynth``
  child processes via ``RUSAGE_CHILDREN``), for scale.

    .venv/bin/python benchmarks/audio_features.py [--works 8] [--seconds 30] [--repeats 3]

Writes benchmarks/results/audio_features.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=8, help="music21 works to render and analyse")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds rendered per work")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    scratch_cache = Path(tempfile.mkdtemp(prefix="leitmotif-bench-cache-"))
    os.environ["LEITMOTIF_CACHE_DIR"] = str(scratch_cache)
    from benchmarks._common import data_dir, django_setup_on_scratch_db, save_result

    django_setup_on_scratch_db()
    import librosa
    from django.conf import settings

    from audio import cache as audio_cache
    from audio import works
    from audio.features import MelConfig, load_audio, log_mel
    from audio.render import fluidsynth_renderer

    config = MelConfig.default()
    clips = sorted((data_dir() / "librosa-audio-clips").glob("*.ogg"))
    if not clips:
        sys.exit(f"No shared clips under {data_dir() / 'librosa-audio-clips'}; set LEITMOTIF_DATA_DIR.")

    # Render the works once (one per stratum, round-robin order of the default selection).
    renderer = fluidsynth_renderer()
    refs = works.select_works(limit=args.works)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    rendered: list[Path] = []
    for ref in refs:
        try:
            prepared = works.prepare_work(
                ref, seconds=args.seconds, sample_rate=int(settings.AUDIO_SAMPLE_RATE), renderer=renderer
            )
        except works.SkipWork as exc:
            print(f"skipped {ref.label}: {exc}")
            continue
        rendered.append(Path(settings.LEITMOTIF_CACHE_DIR) / prepared.audio_path)
    render_wall = time.perf_counter() - wall
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    render_child_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    # Keep the rendered files outside the feature cache so clearing it does not delete them.
    works_dir = Path(tempfile.mkdtemp(prefix="leitmotif-bench-works-"))
    rendered = [Path(shutil.copy(path, works_dir / path.name)) for path in rendered]

    def audio_seconds(paths: list[Path]) -> float:
        import soundfile as sf

        return sum(sf.info(str(p)).duration for p in paths)

    def cpu(fn) -> float:
        start = time.process_time()
        fn()
        return time.process_time() - start

    def clear_feature_cache() -> None:
        shutil.rmtree(audio_cache.feature_cache_dir(), ignore_errors=True)

    results: dict[str, dict] = {}
    for name, paths in (("shared_clips", clips), ("rendered_works", rendered)):
        total = audio_seconds(paths)
        cold, hit, decode, mel = [], [], [], []
        for _ in range(args.repeats):
            clear_feature_cache()
            cold.append(cpu(lambda paths=paths: [audio_cache.cached_features(p, config) for p in paths]))
            hit.append(cpu(lambda paths=paths: [audio_cache.cached_features(p, config) for p in paths]))
            assert all(audio_cache.cached_features(p, config).hit for p in paths)
            loaded = []
            decode.append(
                cpu(
                    lambda loaded=loaded, paths=paths: loaded.extend(
                        load_audio(p, sample_rate=config.sample_rate) for p in paths
                    )
                )
            )
            mel.append(cpu(lambda loaded=loaded: [log_mel(clip, config) for clip in loaded]))
        results[name] = {
            "files": len(paths),
            "audio_seconds": round(total, 1),
            "cold_cpu_seconds": {"median": round(statistics.median(cold), 3), "best": round(min(cold), 3)},
            "cold_audio_seconds_per_cpu_second": {
                "median": round(total / statistics.median(cold), 1),
                "best": round(total / min(cold), 1),
            },
            "cold_split_cpu_seconds_median": {
                "load_audio": round(statistics.median(decode), 3),
                "log_mel": round(statistics.median(mel), 3),
            },
            "hit_cpu_seconds": {"median": round(statistics.median(hit), 4), "best": round(min(hit), 4)},
            "hit_audio_seconds_per_cpu_second": {
                "median": round(total / statistics.median(hit), 1),
                "best": round(total / min(hit), 1),
            },
            "hit_speedup_median": round(statistics.median(cold) / statistics.median(hit), 1),
        }
        print(
            f"{name}: {len(paths)} files, {total:.0f} s of audio; cold {total / statistics.median(cold):.0f} s audio/CPU s "
            f"(median of {args.repeats}), cache hit {total / statistics.median(hit):.0f} s audio/CPU s "
            f"({results[name]['hit_speedup_median']}x)"
        )

    payload = {
        "mel_config": config.to_dict(),
        "fingerprint": config.fingerprint(),
        "librosa": librosa.__version__,
        "repeats": args.repeats,
        "works": [ref.label for ref in refs],
        "render": {
            "works_rendered": len(rendered),
            "seconds_per_work": args.seconds,
            "audio_seconds": round(audio_seconds(rendered), 1),
            "wall_seconds": round(render_wall, 2),
            "fluidsynth_cpu_seconds": round(render_child_cpu, 2),
            "note": "wall includes music21 parsing and MIDI export; fluidsynth CPU is its child processes only",
        },
        **results,
    }
    save_result("audio_features", payload)
    shutil.rmtree(scratch_cache, ignore_errors=True)
    shutil.rmtree(works_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
