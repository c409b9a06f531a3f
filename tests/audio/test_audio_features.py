"""Audio front end: decoding and validation, log-mel settings and shapes, the content-hash cache, pictures.

Real recordings from the shared data (``librosa-audio-clips``, see its README section 7); the bad
inputs are made from them (cut, renamed, re-encoded) or written here (silence, text, a MIDI header).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.conf import settings

from audio import cache as audio_cache
from audio import features, spectrogram
from audio.features import MelConfig, fixed_length_crops, load_audio, log_mel
from core.errors import AudioInputError, ConfigurationError

CLIPS = Path(settings.LEITMOTIF_DATA_DIR) / "librosa-audio-clips"
TRUMPET = CLIPS / "trumpet.ogg"  # 5.3 s, mono, 22,050 Hz
LIBRI = CLIPS / "libri1.ogg"  # 14.8 s speech

pytestmark = pytest.mark.skipif(not TRUMPET.is_file(), reason=f"shared audio clips missing at {CLIPS}")


@pytest.fixture(scope="module")
def trumpet_bytes() -> bytes:
    return TRUMPET.read_bytes()


@pytest.fixture(scope="module")
def trumpet_samples() -> tuple[np.ndarray, int]:
    samples, rate = sf.read(TRUMPET, dtype="float32")
    return samples, rate


def encoded(samples: np.ndarray, rate: int, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, **kwargs)
    return buffer.getvalue()


def count_decodes(monkeypatch) -> list[str]:
    """Record every real decode (the cache must not decode on a hit)."""
    calls: list[str] = []
    real = features._decode

    def counting(data, **kwargs):
        calls.append(kwargs["display"])
        return real(data, **kwargs)

    monkeypatch.setattr(features, "_decode", counting)
    return calls


# --- decoding and shapes --------------------------------------------------------------------------


def test_real_clip_decodes_to_mono_at_the_analysis_rate():
    clip = load_audio(TRUMPET)
    assert clip.sample_rate == settings.AUDIO_SAMPLE_RATE == 22050
    assert clip.samples.ndim == 1 and clip.samples.dtype == np.float32
    assert clip.source_format == "ogg" and clip.source_channels == 1 and clip.source_sample_rate == 22050
    assert clip.duration_seconds == pytest.approx(5.333, abs=0.01)
    assert not clip.truncated and clip.notes == ()
    assert len(clip.sha256) == 64 and clip.size_bytes == TRUMPET.stat().st_size


def test_log_mel_uses_the_papers_settings_and_shape():
    config = MelConfig.default()
    assert (config.n_fft, config.win_length, config.hop_length, config.window, config.n_mels) == (
        1024,
        1024,
        512,
        "hamming",
        128,
    )
    clip = load_audio(TRUMPET)
    mel = log_mel(clip, config)
    assert mel.dtype == np.float32
    assert mel.shape == (128, 1 + len(clip.samples) // 512)  # centred frames
    assert np.isfinite(mel).all()
    assert mel.max() - mel.min() <= config.top_db + 1e-3  # floored top_db below the loudest bin


def test_sixteen_kilohertz_config_resamples():
    config = MelConfig(sample_rate=16000)
    clip = load_audio(TRUMPET, sample_rate=16000)
    assert clip.sample_rate == 16000 and clip.duration_seconds == pytest.approx(5.333, abs=0.01)
    mel = log_mel(load_audio(TRUMPET), config)  # a 22.05 kHz clip is resampled by log_mel too
    assert mel.shape == (128, 1 + int(round(5.3334 * 16000)) // 512)


def test_stereo_44k_wav_is_averaged_to_mono_and_resampled(trumpet_samples):
    samples, rate = trumpet_samples
    import librosa

    left = librosa.resample(samples, orig_sr=rate, target_sr=44100)
    stereo = np.stack([left, 0.5 * left], axis=1)
    clip = load_audio(encoded(stereo, 44100, "WAV"), name="stereo.wav")
    assert (clip.source_channels, clip.source_sample_rate, clip.sample_rate) == (2, 44100, 22050)
    assert clip.duration_seconds == pytest.approx(5.333, abs=0.01)


@pytest.mark.parametrize("fmt,name", [("FLAC", "x.flac"), ("WAV", "x.wav"), ("MP3", "x.mp3")])
def test_other_supported_formats_decode(trumpet_samples, fmt, name):
    samples, rate = trumpet_samples
    clip = load_audio(encoded(samples, rate, fmt), name=name)
    assert clip.source_format == name.rsplit(".", 1)[1]
    assert clip.duration_seconds == pytest.approx(5.333, abs=0.06)  # MP3 adds encoder padding


def test_content_decides_the_format_not_the_name(trumpet_samples):
    samples, rate = trumpet_samples
    clip = load_audio(encoded(samples, rate, "FLAC"), name="actually-flac.wav")
    assert clip.source_format == "flac"


def test_mel_config_validates_and_fingerprints_stably():
    assert MelConfig().fingerprint() == MelConfig().fingerprint()
    assert MelConfig(n_mels=64).fingerprint() != MelConfig().fingerprint()
    # Crops do not change the full spectrogram, so they do not change the cache key.
    assert MelConfig(crops=3).spectrogram_fingerprint() == MelConfig().spectrogram_fingerprint()
    assert MelConfig(crops=3).fingerprint() != MelConfig().fingerprint()
    with pytest.raises(ConfigurationError, match="sample_rate"):
        MelConfig(sample_rate=44100)
    with pytest.raises(ConfigurationError, match="win_length"):
        MelConfig(win_length=2048)
    with pytest.raises(ConfigurationError, match="crop_seconds"):
        MelConfig(crops=0)


def test_fixed_length_crops_pad_short_and_spread_long():
    mel = np.arange(128 * 100, dtype=np.float32).reshape(128, 100)
    padded = fixed_length_crops(mel, 150, 2)
    assert padded.shape == (2, 128, 150)
    assert np.array_equal(padded[0, :, :100], mel) and (padded[0, :, 100:] == mel.min()).all()
    crops = fixed_length_crops(mel, 40, 3)
    assert crops.shape == (3, 128, 40)
    assert np.array_equal(crops[0], mel[:, :40]) and np.array_equal(crops[-1], mel[:, 60:])
    assert np.array_equal(fixed_length_crops(mel, 40, 1)[0], mel[:, 30:70])  # one crop: centred
    config = MelConfig(crop_seconds=2.0, crops=4)
    assert features.crops_for(log_mel(load_audio(TRUMPET), config), config).shape == (4, 128, config.crop_frames)
    with pytest.raises(ValueError):
        fixed_length_crops(mel[0], 10, 1)


# --- bad inputs ---------------------------------------------------------------------------------


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")
    with pytest.raises(AudioInputError, match="empty") as caught:
        load_audio(empty)
    assert caught.value.code == "E040" and caught.value.path == str(empty)


def test_missing_file(tmp_path):
    with pytest.raises(AudioInputError, match="no such file"):
        load_audio(tmp_path / "nope.wav")


def test_text_renamed_ogg_is_not_audio(tmp_path):
    fake = tmp_path / "song.ogg"
    fake.write_text("This is a lyrics sheet, not a recording.\n" * 20)
    with pytest.raises(AudioInputError, match="not an audio file although it is named .ogg: it looks like text"):
        load_audio(fake)


def test_random_bytes_are_not_audio():
    with pytest.raises(AudioInputError, match="match no audio format"):
        load_audio(bytes(range(256)) * 8, name="blob.bin")


@pytest.mark.parametrize(
    "data,name,expected",
    [
        (b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 200, "voice-memo.m4a", "MPEG-4"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0" + b"\x00" * 50, "score.mid", "MIDI"),
        (b"\xff\xf1\x50\x80" + b"\x00" * 200, "clip.aac", "AAC"),
    ],
)
def test_unsupported_formats_say_what_to_convert_to(data, name, expected):
    with pytest.raises(AudioInputError, match=f"unsupported audio format {expected}.*convert it to one of"):
        load_audio(data, name=name)


def test_truncated_ogg_decodes_what_is_there_and_is_flagged(trumpet_bytes):
    half = trumpet_bytes[: len(trumpet_bytes) // 2]
    clip = load_audio(half, name="half.ogg")
    assert clip.truncated
    assert 0.5 < clip.duration_seconds < 5.0
    assert "Ogg stream has no end" in clip.notes[0]
    with pytest.raises(AudioInputError, match="cut off"):
        load_audio(half, name="half.ogg", allow_truncated=False)


def test_a_cut_recording_is_refused_by_a_strict_caller_even_from_the_cache(trumpet_bytes):
    half = trumpet_bytes[: len(trumpet_bytes) // 2]
    with pytest.raises(AudioInputError, match="cut off"):
        audio_cache.cached_features(half, name="half.ogg", allow_truncated=False)  # refused before anything is stored
    lenient = audio_cache.cached_features(half, name="half.ogg")
    assert not lenient.hit and lenient.info["truncated"]
    with pytest.raises(AudioInputError, match="cut off"):
        audio_cache.cached_features(half, name="half.ogg", allow_truncated=False)  # a hit, judged from the stored notes
    assert audio_cache.cached_features(half, name="half.ogg").hit


def test_truncated_flac_and_wav_are_flagged(trumpet_samples):
    samples, rate = trumpet_samples
    flac = encoded(samples, rate, "FLAC")
    clip = load_audio(flac[: len(flac) // 2], name="half.flac")
    assert clip.truncated and 0.5 < clip.duration_seconds < 5.0
    wav = encoded(samples, rate, "WAV")
    clip = load_audio(wav[: len(wav) // 2], name="half.wav")
    assert clip.truncated and clip.duration_seconds == pytest.approx(5.333 / 2, abs=0.05)


def test_file_cut_inside_its_header_is_an_error(trumpet_bytes):
    with pytest.raises(AudioInputError, match="cannot be decoded"):
        load_audio(trumpet_bytes[:200], name="cut.ogg")


def test_too_short_after_a_cut(trumpet_samples):
    samples, rate = trumpet_samples
    wav = encoded(samples[: int(0.2 * rate)], rate, "WAV")
    with pytest.raises(AudioInputError, match="at least 0.5 s"):
        load_audio(wav, name="blip.wav")


def test_silent_recording():
    silence = encoded(np.zeros(22050 * 2, dtype=np.float32), 22050, "WAV")
    with pytest.raises(AudioInputError, match="silent"):
        load_audio(silence, name="silence.wav")
    hiss = encoded(np.full(22050 * 2, 1e-5, dtype=np.float32), 22050, "FLAC")
    with pytest.raises(AudioInputError, match="silent"):
        load_audio(hiss, name="hiss.flac")


def test_too_long(settings):
    settings.AUDIO_MAX_SECONDS = 3
    with pytest.raises(AudioInputError, match="5 s long, more than the 3 s"):
        load_audio(TRUMPET)


def test_too_many_bytes(settings, trumpet_bytes):
    settings.AUDIO_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(AudioInputError, match="MB accepted"):
        load_audio(TRUMPET)
    with pytest.raises(AudioInputError, match="MB accepted"):
        load_audio(trumpet_bytes, name="upload.ogg")


def test_too_low_sample_rate(trumpet_samples):
    samples, rate = trumpet_samples
    import librosa

    low = librosa.resample(samples, orig_sr=rate, target_sr=4000)
    with pytest.raises(AudioInputError, match="4000 Hz"):
        load_audio(encoded(low, 4000, "WAV"), name="phone.wav")


# --- cache -----------------------------------------------------------------------------------------


def cache_files() -> list[Path]:
    root = audio_cache.feature_cache_dir()
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_second_call_is_a_cache_hit_without_decoding(monkeypatch):
    calls = count_decodes(monkeypatch)
    config = MelConfig.default()
    first = audio_cache.cached_features(TRUMPET, config)
    second = audio_cache.cached_features(TRUMPET, config)
    same_bytes_other_name = audio_cache.cached_features(TRUMPET.read_bytes(), config, name="upload.ogg")
    assert (first.hit, second.hit, same_bytes_other_name.hit) == (False, True, True)
    assert len(calls) == 1
    assert np.array_equal(first.mel, second.mel) and first.key == second.key
    assert first.mel.shape == (128, 230) and second.info["duration_seconds"] == pytest.approx(5.333, abs=0.01)
    files = cache_files()
    assert {p.suffix for p in files} == {".npy", ".json"}
    assert all(str(p).startswith(str(Path(settings.LEITMOTIF_CACHE_DIR) / "audio-features")) for p in files)
    assert not [p for p in files if p.name.startswith(".")]  # no temporary files left behind
    # Another spectrogram config is another entry; the crop settings are not.
    audio_cache.cached_log_mel(TRUMPET, MelConfig(crops=5))
    assert len(calls) == 1
    audio_cache.cached_log_mel(TRUMPET, MelConfig(n_mels=64))
    assert len(calls) == 2


def test_unreadable_cache_entry_is_recomputed(monkeypatch):
    calls = count_decodes(monkeypatch)
    audio_cache.cached_log_mel(TRUMPET)
    npy = next(p for p in cache_files() if p.suffix == ".npy")
    npy.write_bytes(b"garbage")
    again = audio_cache.cached_features(TRUMPET)
    assert not again.hit and len(calls) == 2 and again.mel.shape == (128, 230)
    assert audio_cache.cached_features(TRUMPET).hit


def test_bad_audio_stores_nothing(tmp_path):
    fake = tmp_path / "song.ogg"
    fake.write_text("not audio")
    with pytest.raises(AudioInputError):
        audio_cache.cached_log_mel(fake)
    with pytest.raises(AudioInputError):
        audio_cache.cached_log_mel(encoded(np.zeros(44100, dtype=np.float32), 22050, "WAV"), name="silent.wav")
    assert cache_files() == []


def test_cache_hit_still_honours_a_lowered_duration_limit(settings):
    audio_cache.cached_log_mel(TRUMPET)
    settings.AUDIO_MAX_SECONDS = 3
    with pytest.raises(AudioInputError, match="more than the 3 s"):
        audio_cache.cached_log_mel(TRUMPET)


# --- pictures --------------------------------------------------------------------------------------


def test_spectrogram_png_is_rendered_once_and_cached(monkeypatch):
    calls = count_decodes(monkeypatch)
    path = spectrogram.spectrogram_png(LIBRI)
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(path).startswith(str(Path(settings.LEITMOTIF_CACHE_DIR)))
    drawn = path.read_bytes()
    monkeypatch.setattr(spectrogram, "_draw", lambda *a, **k: pytest.fail("a cached picture must not be redrawn"))
    assert spectrogram.spectrogram_png(LIBRI) == path
    assert path.read_bytes() == drawn and len(calls) == 1


def test_spectrogram_png_refuses_bad_audio(tmp_path):
    fake = tmp_path / "x.wav"
    fake.write_text("hello")
    with pytest.raises(AudioInputError, match="not an audio file"):
        spectrogram.spectrogram_png(fake)
