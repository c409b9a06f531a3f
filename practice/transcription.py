"""Notes heard in a recording: Spotify's Basic Pitch (ICASSP 2022) run with ONNX Runtime on one CPU thread.

Why Basic Pitch and not torchcrepe or ``librosa.pyin`` (checked on this machine, December 2026):

* the works are mostly polyphonic (chorales, quartets, madrigals); torchcrepe and pYIN track one
  pitch, so every chord would read as wrong and missed notes;
* Basic Pitch is polyphonic, instrument-agnostic and small (``nmp.onnx``, 230 kB, shipped inside the
  ``basic-pitch`` wheel: nothing is downloaded at run time);
* torchcrepe 0.0.24 requires ``torchaudio``, whose newest release (2.11.1) does not match torch 2.15;
* ``basic-pitch`` declares ``tensorflow<2.15.1`` (which needs numpy 1), so it is installed with
  ``--no-deps`` next to ``onnxruntime``, ``pretty_midi``, ``resampy`` and ``mir_eval``: the ONNX model
  needs none of TensorFlow.

The model reads 22.05 kHz mono in 2 s windows overlapping by 30 frames (its own ``run_inference``, but on
samples already in memory, batched, and with a session limited to one thread so analysis never takes
the machine's other core).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import ModelArtifactError

#: Basic Pitch's own sample rate; the project's analysis rate (AUDIO_SAMPLE_RATE) is the same by default.
SAMPLE_RATE = 22050
ONSET_THRESHOLD = 0.5
FRAME_THRESHOLD = 0.3
#: Notes shorter than this are not reported (Basic Pitch's default is 127.7 ms; short ornaments still pass).
MIN_NOTE_MS = 58.0

_lock = threading.Lock()
_model: Any = None


@dataclass(frozen=True)
class HeardNote:
    onset: float
    offset: float
    pitch: int
    amplitude: float

    def to_list(self) -> list[float]:
        return [round(self.onset, 4), round(self.offset, 4), self.pitch, round(self.amplitude, 4)]


def _load_model() -> Any:
    """The ONNX model, loaded once per process with a one-thread session."""
    global _model
    with _lock:
        if _model is not None:
            return _model
        import logging

        logging.disable(logging.WARNING)  # basic_pitch logs a warning per absent backend (TF, TFLite, CoreML)
        try:
            import onnxruntime as ort
            from basic_pitch import ICASSP_2022_MODEL_PATH
            from basic_pitch.inference import Model
        except ImportError as exc:
            raise ModelArtifactError(
                f"the note transcription model is not installed ({exc}); install basic-pitch==0.4.0 with --no-deps "
                "and onnxruntime, pretty_midi, resampy and mir_eval (see the practice app's documentation)."
            ) from None
        finally:
            logging.disable(logging.NOTSET)
        path = str(ICASSP_2022_MODEL_PATH.parent / "nmp.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        model = Model.__new__(Model)
        model.model_type = Model.MODEL_TYPES.ONNX
        model.model = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        _model = model
        return model


def transcribe(samples: np.ndarray, *, sample_rate: int) -> list[HeardNote]:
    """The notes Basic Pitch hears in mono ``samples`` (resampled to 22.05 kHz first if needed)."""
    import librosa

    model = _load_model()
    from basic_pitch import note_creation
    from basic_pitch.constants import AUDIO_N_SAMPLES, FFT_HOP
    from basic_pitch.inference import unwrap_output, window_audio_file

    audio = np.asarray(samples, dtype=np.float32)
    if sample_rate != SAMPLE_RATE:
        audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=SAMPLE_RATE).astype(np.float32)
    n_overlap = 30
    overlap_len = n_overlap * FFT_HOP
    hop_size = AUDIO_N_SAMPLES - overlap_len
    original_length = audio.shape[0]
    padded = np.concatenate([np.zeros(overlap_len // 2, dtype=np.float32), audio])
    windows = np.stack([window for window, _ in window_audio_file(padded, hop_size)])
    outputs: dict[str, list[np.ndarray]] = {"note": [], "onset": [], "contour": []}
    for start in range(0, len(windows), 8):
        for key, value in model.predict(windows[start : start + 8]).items():
            outputs[key].append(value)
    unwrapped = {
        key: unwrap_output(np.concatenate(value), original_length, n_overlap) for key, value in outputs.items()
    }
    min_frames = int(np.round(MIN_NOTE_MS / 1000 * (SAMPLE_RATE / FFT_HOP)))
    _, events = note_creation.model_output_to_notes(
        unwrapped,
        onset_thresh=ONSET_THRESHOLD,
        frame_thresh=FRAME_THRESHOLD,
        min_note_len=min_frames,
        include_pitch_bends=False,
        melodia_trick=True,
    )
    notes = [HeardNote(float(s), float(e), int(p), float(a)) for s, e, p, a, *_ in events]
    return sorted(notes, key=lambda n: (n.onset, n.pitch))
