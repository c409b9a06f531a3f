"""Log-mel spectrogram pictures for item pages, cached next to the features they show.

Why a picture is cached by content like the features: an item page is viewed far more often than its
audio changes, and drawing with matplotlib costs ~0.1-0.3 s. The picture is drawn from
:func:`audio.cache.cached_features`, so a page view never decodes audio that was analysed
before. Matplotlib's object API with the Agg canvas is used (no ``pyplot``): no global figure state,
safe in a threaded web server, no display needed.
"""

from __future__ import annotations

import io
from pathlib import Path

from audio.cache import atomic_write_bytes, cached_features, feature_cache_dir
from audio.features import AudioSource, MelConfig

#: Bump when the drawing changes, so cached pictures are redrawn.
PNG_VERSION = 1
WIDTH_INCHES, HEIGHT_INCHES, DPI = 8.0, 3.0, 100


def spectrogram_png(source: AudioSource, config: MelConfig | None = None, *, name: str | None = None) -> Path:
    """Path of a PNG of the recording's log-mel spectrogram (time in s, mel frequency in Hz, dB colour bar).

    Raises :class:`~core.errors.AudioInputError` for a recording that cannot be analysed,
    like every other entry point; nothing is stored then.
    """
    config = config or MelConfig.default()
    found = cached_features(source, config, name=name)
    path = spectrogram_path(found.info["sha256"], config)
    if path.is_file() and path.stat().st_size > 0:
        return path
    atomic_write_bytes(path, _draw(found.mel, config))
    return path


def spectrogram_path(sha256: str, config: MelConfig | None = None) -> Path:
    """Where the picture of the recording with this SHA-256 is (or will be) cached; the one place that knows."""
    config = config or MelConfig.default()
    return (
        feature_cache_dir()
        / "png"
        / f"v{PNG_VERSION}-{config.spectrogram_fingerprint()}"
        / sha256[:2]
        / f"{sha256}.png"
    )


def _draw(mel, config: MelConfig) -> bytes:
    import librosa.display
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = librosa.display.specshow(
        mel,
        sr=config.sample_rate,
        hop_length=config.hop_length,
        n_fft=config.n_fft,
        win_length=config.win_length,
        x_axis="time",
        y_axis="mel",
        fmin=config.fmin,
        fmax=config.fmax or config.sample_rate / 2,
        cmap="magma",
        ax=axes,
    )
    axes.set(xlabel="time (s)", ylabel="frequency (Hz, mel scale)")
    figure.colorbar(image, ax=axes, format="%+2.0f dB")
    buffer = io.BytesIO()
    # No "Software"/date metadata: identical audio gives a byte-identical picture.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
