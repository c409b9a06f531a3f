"""Decoding recordings and computing log-mel spectrograms: the one audio front end of Leitmotif.

Everything that turns sound into numbers goes through here, so the encoder's training data, an
uploaded recording and a rendered work are decoded, resampled and analysed identically.

The spectrogram settings follow the multi-source fusion paper: STFT with a 1024-sample Hamming window
and a hop of 512 samples, 128 mel bands, power in decibels. They live in :class:`MelConfig`, whose
:meth:`MelConfig.fingerprint` names the exact settings (and the librosa version) a feature was made
with, so a cache entry or a trained encoder can never be paired with features of other settings.

Validation happens before any decoding work that could be large, and every refusal is an
:class:`~core.errors.AudioInputError` that names the recording and says what to do.

Decision on truncated files (a download or upload cut off part-way): the decodable part is kept and
the clip is flagged ``truncated=True`` with a note, because a cut recording still holds real audio and
libsndfile decodes it cleanly up to the cut. Callers that must not accept partial audio (an upload
that should be retried) pass ``allow_truncated=False`` and get an error instead. A file cut so early
that less than :data:`MIN_SECONDS` of audio decodes is always an error. How a cut is detected, per
format: Ogg - the last page is incomplete or lacks the end-of-stream flag; WAV - the ``data`` chunk
declares more bytes than the file holds; FLAC/MP3 - fewer frames decode than the header (STREAMINFO,
Xing) declares, or the decoder loses sync mid-stream.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from django.conf import settings

from core.errors import AudioInputError, ConfigurationError

#: What callers may hand in: a file path or the recording's bytes (an upload).
AudioSource = str | os.PathLike | bytes

#: Bump when the decoding or the spectrogram code changes what it produces: cached features then miss.
FEATURE_VERSION = 1

#: Formats we decode (with libsndfile); format name -> file extensions that usually carry it.
SUPPORTED_FORMATS: dict[str, tuple[str, ...]] = {
    "wav": (".wav", ".wave"),
    "ogg": (".ogg", ".oga", ".opus"),
    "flac": (".flac",),
    "mp3": (".mp3",),
    "aiff": (".aif", ".aiff"),
}
_SUPPORTED_EXTENSIONS = {ext for exts in SUPPORTED_FORMATS.values() for ext in exts}
#: Containers we recognise but cannot decode here; the message tells the user what to convert to.
_UNSUPPORTED_EXTENSIONS = {
    ".m4a": "MPEG-4 audio (AAC/ALAC)",
    ".mp4": "MPEG-4",
    ".aac": "AAC",
    ".wma": "Windows Media Audio",
    ".amr": "AMR",
    ".webm": "WebM",
    ".mid": "MIDI",
    ".midi": "MIDI",
    ".ape": "Monkey's Audio",
}
SUPPORTED_SAMPLE_RATES = (16000, 22050)
#: Recordings sampled below this have no content in most of the 128 mel bands: refused, not upsampled.
MIN_SOURCE_SAMPLE_RATE = 8000
#: Shortest decodable audio accepted (also after a truncation): shorter gives too few frames to analyse.
MIN_SECONDS = 0.5
#: RMS (full scale = 1.0) below which a recording counts as silent: about -80 dBFS, under dither noise.
SILENCE_RMS = 1e-4
#: Frames decoded per block: a decoder error mid-stream keeps the blocks decoded before it.
_BLOCK_FRAMES = 8192


@dataclass(frozen=True)
class MelConfig:
    """Log-mel settings. Frozen so a config can key caches and be saved next to a trained encoder.

    ``crop_seconds``/``crops`` describe the fixed-length windows a model sees (see
    :func:`fixed_length_crops`); they do not change the full-clip spectrogram, so the feature cache keys
    on :meth:`spectrogram_fingerprint` and a new crop length reuses cached spectrograms.
    """

    sample_rate: int = 22050
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 512
    window: str = "hamming"
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None  # None: Nyquist of ``sample_rate``
    #: dB floor below the loudest bin (librosa ``top_db``): keeps near-silent bins from dominating.
    top_db: float = 80.0
    crop_seconds: float = 10.0
    crops: int = 1

    def __post_init__(self) -> None:
        if self.sample_rate not in SUPPORTED_SAMPLE_RATES:
            raise ConfigurationError(
                f"MelConfig.sample_rate must be one of {SUPPORTED_SAMPLE_RATES} Hz, got {self.sample_rate!r}."
            )
        if self.win_length > self.n_fft or self.hop_length <= 0 or self.n_mels <= 0:
            raise ConfigurationError(
                "MelConfig needs 0 < hop_length, win_length <= n_fft and n_mels > 0 "
                f"(got n_fft={self.n_fft}, win_length={self.win_length}, hop_length={self.hop_length}, n_mels={self.n_mels})."
            )
        nyquist = self.sample_rate / 2
        if not 0 <= self.fmin < (self.fmax or nyquist) <= nyquist:
            raise ConfigurationError(
                f"MelConfig needs 0 <= fmin < fmax <= {nyquist:g} Hz (got fmin={self.fmin}, fmax={self.fmax})."
            )
        if self.crop_seconds <= 0 or self.crops < 1:
            raise ConfigurationError(
                f"MelConfig needs crop_seconds > 0 and crops >= 1 (got {self.crop_seconds}, {self.crops})."
            )

    @classmethod
    def default(cls) -> MelConfig:
        """The project's settings: ``settings.AUDIO_SAMPLE_RATE`` and the paper's STFT/mel settings."""
        return cls(sample_rate=int(settings.AUDIO_SAMPLE_RATE))

    @property
    def crop_frames(self) -> int:
        """Spectrogram frames in one crop of ``crop_seconds`` (centred STFT frames)."""
        return 1 + int(self.crop_seconds * self.sample_rate) // self.hop_length

    def to_dict(self) -> dict:
        return asdict(self)

    def spectrogram_fingerprint(self) -> str:
        """Hash of what determines a full-clip spectrogram: settings, feature code version, librosa version."""
        spectrogram_fields = {k: v for k, v in asdict(self).items() if k not in ("crop_seconds", "crops")}
        return _fingerprint({"mel": spectrogram_fields, **_code_versions()})

    def fingerprint(self) -> str:
        """Hash of every setting (crops included): what a trained encoder records about its input."""
        return _fingerprint({"mel": asdict(self), **_code_versions()})


def _code_versions() -> dict:
    # librosa.__version__ is this string; librosa's own stub (__init__.pyi) leaves it out.
    from librosa.version import version as librosa_version

    # Only major.minor: a patch release does not change the numbers, a minor release might.
    return {"feature_version": FEATURE_VERSION, "librosa": ".".join(librosa_version.split(".")[:2])}


def _fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class AudioClip:
    """A decoded recording: mono float32 ``samples`` at ``sample_rate``, plus what the source was."""

    name: str
    samples: np.ndarray = field(repr=False)
    sample_rate: int
    source_format: str
    source_sample_rate: int
    source_channels: int
    sha256: str
    size_bytes: int
    truncated: bool = False
    notes: tuple[str, ...] = ()

    @property
    def duration_seconds(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def rms(self) -> float:
        return float(np.sqrt(np.mean(np.square(self.samples, dtype=np.float64)))) if len(self.samples) else 0.0


# --- reading and format checks ---------------------------------------------------------------------


def read_source_bytes(source: AudioSource, *, name: str | None = None) -> tuple[bytes, str]:
    """The recording's bytes and a display name, refusing an empty or too large input before reading it all."""
    limit = int(settings.AUDIO_MAX_UPLOAD_BYTES)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        display = name or "uploaded recording"
    else:
        path = Path(source)
        display = name or str(path)
        if not path.is_file():
            raise AudioInputError("no such file; check the path.", path=display)
        size = path.stat().st_size
        if size > limit:
            raise _too_large(display, size, limit)
        data = path.read_bytes()
    if not data:
        raise AudioInputError("the file is empty (0 bytes); upload the recording again.", path=display)
    if len(data) > limit:
        raise _too_large(display, len(data), limit)
    return data, display


def _too_large(display: str, size: int, limit: int) -> AudioInputError:
    return AudioInputError(
        f"the file is {size / 1e6:.1f} MB, more than the {limit / 1e6:.1f} MB accepted "
        "(settings.AUDIO_MAX_UPLOAD_BYTES); upload a shorter excerpt or a compressed format (ogg, mp3, flac).",
        path=display,
    )


def sniff_format(data: bytes) -> str | None:
    """The container format the bytes really are (``wav``, ``ogg``...), from magic numbers; None if unknown.

    Why content and not the file name: uploads are renamed all the time; a text file called
    ``song.ogg`` must be refused as "not audio", and a FLAC called ``.wav`` is still fine.
    """
    head = data[:12]
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:
        # MPEG audio frame sync: layer bits 00 mean AAC (ADTS), which libsndfile cannot decode.
        return "aac" if (head[1] & 0x06) == 0 else "mp3"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"MThd":
        return "midi"
    if head[:4] == b"\x30\x26\xb2\x75":
        return "wma"
    if head[:5] == b"#!AMR":
        return "amr"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    return None


_UNSUPPORTED_CONTENT = {
    "aac": "AAC",
    "mp4": "MPEG-4 audio (m4a/mp4)",
    "midi": "MIDI (a score, not a recording)",
    "wma": "Windows Media Audio",
    "amr": "AMR",
    "webm": "WebM/Matroska",
}


def _looks_like_text(data: bytes) -> bool:
    sample = data[:2048]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check_format(data: bytes, display: str) -> str:
    kind = sniff_format(data)
    extension = Path(display).suffix.lower()
    supported = ", ".join(sorted(SUPPORTED_FORMATS))
    if kind in SUPPORTED_FORMATS:
        return kind
    if kind in _UNSUPPORTED_CONTENT:
        raise AudioInputError(
            f"unsupported audio format {_UNSUPPORTED_CONTENT[kind]}; convert it to one of {supported}.", path=display
        )
    if extension in _UNSUPPORTED_EXTENSIONS and kind is None:
        raise AudioInputError(
            f"unsupported format {_UNSUPPORTED_EXTENSIONS[extension]} ({extension}); convert it to one of {supported}.",
            path=display,
        )
    what = "it looks like text" if _looks_like_text(data) else "its first bytes match no audio format"
    named = f" although it is named {extension}" if extension in _SUPPORTED_EXTENSIONS else ""
    raise AudioInputError(f"not an audio file{named}: {what}. Send a recording in one of: {supported}.", path=display)


def _ogg_is_cut(data: bytes) -> bool:
    """True if the last Ogg page is incomplete or is not the end of the stream."""
    last = data.rfind(b"OggS")
    if last < 0 or len(data) < last + 27:
        return True
    header_type = data[last + 5]
    segments = data[last + 26]
    table_end = last + 27 + segments
    if len(data) < table_end:
        return True
    page_end = table_end + sum(data[last + 27 : table_end])
    return page_end > len(data) or not header_type & 0x04


def _wav_is_cut(data: bytes) -> bool:
    """True if the ``data`` chunk declares more bytes than the file holds."""
    position = 12
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        (chunk_size,) = struct.unpack("<I", data[position + 4 : position + 8])
        if chunk_id == b"data":
            # 0xFFFFFFFF is the RF64 / streaming placeholder: the real size lives elsewhere.
            return chunk_size != 0xFFFFFFFF and position + 8 + chunk_size > len(data)
        position += 8 + chunk_size + (chunk_size & 1)
    return False


# --- decoding --------------------------------------------------------------------------------------


def _decode(
    data: bytes, *, display: str, kind: str, max_seconds: float
) -> tuple[np.ndarray, int, int, bool, tuple[str, ...]]:
    """Decode ``data`` to float32 frames x channels; returns (audio, rate, channels, truncated, notes).

    Block-wise on purpose: when the decoder fails mid-stream (a FLAC cut in half loses sync) the blocks
    decoded before the failure are kept, which is the documented truncation policy.
    """
    try:
        handle = sf.SoundFile(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise undecodable_error(display, kind, exc) from None
    with handle:
        rate, channels, declared = handle.samplerate, handle.channels, handle.frames
        if rate < MIN_SOURCE_SAMPLE_RATE:
            raise AudioInputError(
                f"the sample rate is {rate} Hz; at least {MIN_SOURCE_SAMPLE_RATE} Hz is needed for a 128-band "
                "mel spectrogram. Record or export at 16 kHz or more.",
                path=display,
            )
        if 0 < declared < 2**62 and declared / rate > max_seconds:
            raise duration_limit_error(display, declared / rate, max_seconds)
        blocks: list[np.ndarray] = []
        decoded = 0
        failed: str | None = None
        limit_frames = int(max_seconds * rate) + 1
        while True:
            try:
                block = handle.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                failed = str(exc).strip()
                break
            if not len(block):
                break
            blocks.append(block)
            decoded += len(block)
            if decoded > limit_frames:  # a header that under-declares its length (streams, broken Xing)
                raise duration_limit_error(display, decoded / rate, max_seconds)
    audio = np.concatenate(blocks) if blocks else np.zeros((0, channels), dtype=np.float32)
    notes: list[str] = []
    truncated = False
    if failed is not None:
        truncated = True
        notes.append(f"decoding stopped after {decoded / rate:.2f} s: {failed}")
    elif 0 < declared < 2**62 and decoded < declared:
        truncated = True
        notes.append(f"the header declares {declared / rate:.2f} s but only {decoded / rate:.2f} s decode")
    elif kind == "ogg" and _ogg_is_cut(data):
        truncated = True
        notes.append(f"the Ogg stream has no end (last page cut or missing); {decoded / rate:.2f} s decode")
    elif kind == "wav" and _wav_is_cut(data):
        truncated = True
        notes.append(f"the WAV data chunk is longer than the file; {decoded / rate:.2f} s decode")
    return audio, rate, channels, truncated, tuple(notes)


def undecodable_error(display: str, kind: str, exc: Exception) -> AudioInputError:
    """The error for a file the decoder refuses before its first audio (libsndfile's reason, without its prefix)."""
    reason = str(exc).split(": ", 1)[-1] if ":" in str(exc) else str(exc)
    return AudioInputError(
        f"the {kind} file cannot be decoded ({reason.strip()}); it is damaged or cut off before its first "
        "audio. Export or upload it again.",
        path=display,
    )


def duration_limit_error(display: str, seconds: float, max_seconds: float) -> AudioInputError:
    return AudioInputError(
        f"the recording is {seconds:.0f} s long, more than the {max_seconds:.0f} s accepted "
        "(settings.AUDIO_MAX_SECONDS); upload an excerpt.",
        path=display,
    )


def truncation_error(display: str, notes: Sequence[str]) -> AudioInputError:
    """The refusal of a cut recording by a caller that needs it whole; ``notes`` say where it was cut."""
    return AudioInputError(f"the file is cut off ({'; '.join(notes)}); upload the complete recording.", path=display)


def resample(samples: np.ndarray, *, source_rate: int, target_rate: int) -> np.ndarray:
    """Mono float32 ``samples`` at ``target_rate`` (soxr high quality, librosa's default)."""
    if source_rate == target_rate:
        return samples.astype(np.float32, copy=False)
    import librosa

    return librosa.resample(samples, orig_sr=source_rate, target_sr=target_rate, res_type="soxr_hq").astype(np.float32)


def load_audio(
    source: AudioSource,
    *,
    name: str | None = None,
    sample_rate: int | None = None,
    allow_truncated: bool = True,
    max_seconds: float | None = None,
) -> AudioClip:
    """Read, validate and decode a recording to mono float32 at ``sample_rate`` (default: settings).

    Checks, in order, and each one an :class:`AudioInputError`: the file exists, is not empty and not
    larger than ``settings.AUDIO_MAX_UPLOAD_BYTES``; its content is a supported format; it decodes; its
    sample rate is at least 8 kHz; it is not longer than ``max_seconds`` (default
    ``settings.AUDIO_MAX_SECONDS``, checked from the header before decoding); at least
    :data:`MIN_SECONDS` decode; it is not silent. Channels are averaged to mono.
    """
    data, display = read_source_bytes(source, name=name)
    kind = _check_format(data, display)
    target_rate = int(sample_rate or settings.AUDIO_SAMPLE_RATE)
    limit_seconds = float(max_seconds if max_seconds is not None else settings.AUDIO_MAX_SECONDS)
    audio, rate, channels, truncated, notes = _decode(data, display=display, kind=kind, max_seconds=limit_seconds)
    decoded_seconds = len(audio) / rate
    if truncated and not allow_truncated:
        raise truncation_error(display, notes)
    if decoded_seconds < MIN_SECONDS:
        cut = " (the file is cut off)" if truncated else ""
        raise AudioInputError(
            f"only {decoded_seconds:.2f} s of audio decode{cut}; at least {MIN_SECONDS} s are needed.", path=display
        )
    mono = audio.mean(axis=1) if channels > 1 else audio[:, 0]
    rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64))))
    if rms < SILENCE_RMS:
        raise AudioInputError(
            f"the recording is silent (RMS {20 * np.log10(max(rms, 1e-12)):.0f} dBFS, threshold "
            f"{20 * np.log10(SILENCE_RMS):.0f} dBFS); check the microphone or the export.",
            path=display,
        )
    return AudioClip(
        name=display,
        samples=resample(mono, source_rate=rate, target_rate=target_rate),
        sample_rate=target_rate,
        source_format=kind,
        source_sample_rate=rate,
        source_channels=channels,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        truncated=truncated,
        notes=notes,
    )


# --- spectrograms ----------------------------------------------------------------------------------


def log_mel(clip: AudioClip, config: MelConfig | None = None) -> np.ndarray:
    """The clip's log-mel spectrogram in dB, float32 of shape ``(config.n_mels, frames)``.

    Power spectrogram (|STFT|^2) -> mel filter bank -> ``10 log10`` relative to a fixed power of 1.0,
    floored ``top_db`` below the loudest bin. A fixed reference rather than "relative to the clip's
    maximum" keeps loudness information, which tells a solo from a tutti.
    """
    import librosa

    config = config or MelConfig.default()
    samples = resample(clip.samples, source_rate=clip.sample_rate, target_rate=config.sample_rate)
    power = librosa.feature.melspectrogram(
        y=samples,
        sr=config.sample_rate,
        n_fft=config.n_fft,
        win_length=config.win_length,
        hop_length=config.hop_length,
        window=config.window,
        n_mels=config.n_mels,
        fmin=config.fmin,
        fmax=config.fmax,
        power=2.0,
        center=True,
    )
    return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=config.top_db).astype(np.float32)


def fixed_length_crops(mel: np.ndarray, frames: int, n: int = 1) -> np.ndarray:
    """``n`` windows of ``frames`` frames, shape ``(n, n_mels, frames)``, spread evenly over the clip.

    Deterministic on purpose (evenly spaced, the first and last window touching the ends; a single
    window is centred): the same clip
    always gives the same crops, so cached features and evaluation are reproducible; training code that
    wants random crops can slice the full spectrogram itself. A clip shorter than ``frames`` is padded
    at the end with its own floor value (the quietest bin, i.e. silence at this clip's scale), and all
    ``n`` crops are then that one padded window.
    """
    if mel.ndim != 2:
        raise ValueError(f"expected a (n_mels, frames) spectrogram, got shape {mel.shape}")
    if frames <= 0 or n <= 0:
        raise ValueError(f"frames and n must be positive, got frames={frames}, n={n}")
    total = mel.shape[1]
    if total <= frames:
        floor = float(mel.min()) if mel.size else 0.0
        padded = np.full((mel.shape[0], frames), floor, dtype=mel.dtype)
        padded[:, :total] = mel
        return np.repeat(padded[None], n, axis=0)
    starts = np.linspace(0, total - frames, n).round().astype(int) if n > 1 else np.array([(total - frames) // 2])
    return np.stack([mel[:, start : start + frames] for start in starts])


def crops_for(mel: np.ndarray, config: MelConfig) -> np.ndarray:
    """:func:`fixed_length_crops` with the crop length and count of ``config``."""
    return fixed_length_crops(mel, config.crop_frames, config.crops)
