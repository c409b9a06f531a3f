"""Scores to audio: music21 writes MIDI, the ``fluidsynth`` command line renders it with a SoundFont.

Why FluidSynth and FluidR3_GM: both are Debian packages (``fluidsynth``, ``fluid-soundfont-gm``,
installed by ``scripts/install_system_deps.sh``), free, offline and deterministic, so every machine
renders the same catalogue. The binary and SoundFont come from ``settings.FLUIDSYNTH_BINARY`` and
``settings.FLUIDSYNTH_SOUNDFONT`` when set (defaults: ``fluidsynth`` on the PATH and
``/usr/share/sounds/sf2/FluidR3_GM.sf2``); a missing one is an :class:`AudioRenderError` that says what to
install.

Why an "All Sound Off" is appended to every MIDI file: since FluidSynth 2.3.1 the file player keeps
rendering until no voice is active (FluidSynth issues #1257 and #1233), and with looped sustaining
samples of FluidR3 (bowed strings) some voices never fall silent, so ``-F`` writes an endless file.
Controller 120 on every channel, two beats after the last note, ends every voice and the render stops
with a short natural release. A subprocess timeout guards against anything else of that kind.

Only the first ``seconds`` of a score are rendered. Repeats are first taken as performed (music21's
``expandRepeats`` on the whole score); a score whose repeat marks are badly formed (an unmatched end
repeat, a volta without its repeat: about one corpus file in twelve) is played as written instead, with
its repeat marks removed, and the result says so (``repeats``). The score is then cut after the bar
that reaches ``seconds`` (tempo from its metronome marks; crotchet = 120, music21's default, where it
has none or a mark gives only words), rendered, and trimmed to exactly ``seconds`` with a short fade so
the cut does not click. The result is mono at the analysis sample rate,
peak-normalised to -1 dBFS so works rendered with few and many voices are equally loud, and saved as
FLAC (lossless: the encoder trains on exactly what FluidSynth produced).
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from django.conf import settings

from audio.cache import atomic_write_bytes
from core.errors import AudioRenderError

DEFAULT_FLUIDSYNTH_BINARY = "fluidsynth"
DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
INSTALL_HINT = (
    "install FluidSynth and the General MIDI SoundFont (Debian/Ubuntu: `sudo apt-get install fluidsynth "
    "fluid-soundfont-gm`, or run scripts/install_system_deps.sh), or point settings.FLUIDSYNTH_BINARY / "
    "settings.FLUIDSYNTH_SOUNDFONT at them"
)
#: Bump when the rendering changes what it produces: every cached work is then rendered again.
RENDER_VERSION = 2
#: FluidSynth output gain; the result is peak-normalised afterwards, so this only avoids clipping.
FLUIDSYNTH_GAIN = 0.4
PEAK_DBFS = -1.0
FADE_SECONDS = 0.5
#: A 30 s excerpt renders in about a second; far longer means FluidSynth is stuck (see module doc).
RENDER_TIMEOUT_SECONDS = 120
#: Rendered audio quieter than this RMS (before normalisation) holds no notes.
SILENT_RENDER_RMS = 1e-4


@dataclass(frozen=True)
class Renderer:
    """A checked FluidSynth installation: what the render cache key records about the synthesiser."""

    binary: str
    soundfont: Path
    version: str

    @property
    def identity(self) -> dict:
        stat = self.soundfont.stat()
        return {"fluidsynth": self.version, "soundfont": self.soundfont.name, "soundfont_bytes": stat.st_size}


def fluidsynth_renderer() -> Renderer:
    """Find and check FluidSynth and the SoundFont; :class:`AudioRenderError` naming what is missing."""
    binary_setting = str(getattr(settings, "FLUIDSYNTH_BINARY", DEFAULT_FLUIDSYNTH_BINARY))
    soundfont = Path(getattr(settings, "FLUIDSYNTH_SOUNDFONT", DEFAULT_SOUNDFONT))
    binary = shutil.which(binary_setting)
    if binary is None:
        raise AudioRenderError(f"the FluidSynth program {binary_setting!r} was not found; {INSTALL_HINT}.")
    if not soundfont.is_file():
        raise AudioRenderError(f"the SoundFont {soundfont} does not exist; {INSTALL_HINT}.")
    try:
        completed = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AudioRenderError(f"the FluidSynth program {binary} cannot be run ({exc}); {INSTALL_HINT}.") from None
    first_line = (completed.stdout or completed.stderr).strip().splitlines()
    if completed.returncode != 0 or not first_line:
        raise AudioRenderError(f"{binary} --version failed (exit code {completed.returncode}); {INSTALL_HINT}.")
    return Renderer(binary=binary, soundfont=soundfont, version=first_line[0].strip())


# --- score -> MIDI ---------------------------------------------------------------------------------


DEFAULT_QUARTER_BPM = 120.0


def quarter_length_at(score, seconds: float) -> float:
    """Offset (in quarter notes) reached after ``seconds`` of playback, following the metronome marks."""
    elapsed = 0.0
    for start, end, mark in score.metronomeMarkBoundaries():
        bpm = mark.getQuarterBPM() or DEFAULT_QUARTER_BPM  # "Sehr ruhig" alone has no number
        span = (end - start) * 60.0 / bpm
        if elapsed + span >= seconds:
            return float(start + (seconds - elapsed) * bpm / 60.0)
        elapsed += span
    return float(score.highestTime)


def strip_repeats(score) -> None:
    """Remove repeat barlines, volta brackets and D.C./segno/coda marks in place: play as written."""
    from music21 import bar, repeat, spanner, stream

    for measure in score.recurse().getElementsByClass(stream.Measure):
        if isinstance(measure.leftBarline, bar.Repeat):
            measure.leftBarline = bar.Barline("double")
        if isinstance(measure.rightBarline, bar.Repeat):
            measure.rightBarline = bar.Barline("double")
    for mark in list(score.recurse().getElementsByClass(repeat.RepeatExpression)):
        mark.activeSite.remove(mark)
    for site in score.recurse(streamsOnly=True, includeSelf=True):
        for bracket in list(site.spannerBundle.getByClass(spanner.RepeatBracket)):
            site.spannerBundle.remove(bracket)


def as_performed(score):
    """(a copy of ``score`` with its repeats taken, ``"expanded"``) or, for badly formed repeat marks,
    (a copy without them, ``"not expanded: <reason>"``)."""
    import copy

    try:
        return score.expandRepeats(), "expanded"
    except Exception as exc:
        written = copy.deepcopy(score)
        strip_repeats(written)
        return written, f"not expanded: {str(exc).splitlines()[0][:120]}"


def excerpt(score, seconds: float):
    """The bars of ``score`` that start before ``seconds`` of playback (the whole score if it has no bars)."""
    cut = quarter_length_at(score, seconds)
    parts = list(getattr(score, "parts", []))
    reference = parts[0] if parts else score
    keep = sum(1 for measure in reference.getElementsByClass("Measure") if measure.offset < cut)
    if keep == 0 or cut >= score.highestTime:
        return score
    try:
        # By position, not bar number: expanded repeats repeat the numbers.
        return score.measures(0, keep - 1, indicesNotNumbers=True)
    except Exception:
        return score


def apply_programs(score, programs: list[int]) -> None:
    """Give part *i* the General MIDI program ``programs[i]``, replacing whatever instrument it named.

    Why replace: many corpus files name a placeholder (a madrigal's voices encoded as "Piano", chorale
    voices as "Instrument 1"); the programs are chosen from what the part really is.
    """
    from music21 import instrument

    for part, program in zip(score.parts, programs):
        for old in list(part.recurse().getElementsByClass(instrument.Instrument)):
            old.activeSite.remove(old)
        chosen = instrument.instrumentFromMidiProgram(program)
        chosen.partName = part.partName
        part.insert(0, chosen)


def midi_bytes(score) -> bytes:
    """A Standard MIDI File of ``score`` that ends every voice two beats after its last event."""
    from music21 import midi
    from music21.midi import translate

    midi_file = translate.streamToMidiFile(score)
    tracks = midi_file.tracks
    if not tracks:
        raise AudioRenderError("the score produced an empty MIDI file (no parts or notes).")

    def ticks(track) -> int:
        return sum(event.time for event in track.events if isinstance(event, midi.DeltaTime))

    end = max(ticks(track) for track in tracks)
    conductor = tracks[0]
    end_of_track = conductor.events.pop()
    if not isinstance(conductor.events[-1], midi.DeltaTime):
        raise AudioRenderError("unexpected MIDI layout from music21 (no delta time before End of Track).")
    conductor.events.pop()
    conductor.events.append(midi.DeltaTime(conductor, time=end + 2 * midi_file.ticksPerQuarterNote - ticks(conductor)))
    for channel in range(1, 17):
        if channel > 1:
            conductor.events.append(midi.DeltaTime(conductor, time=0))
        all_sound_off = midi.MidiEvent(conductor, type=midi.ChannelVoiceMessages.CONTROLLER_CHANGE, channel=channel)
        all_sound_off.parameter1, all_sound_off.parameter2 = 120, 0
        conductor.events.append(all_sound_off)
    conductor.events.append(midi.DeltaTime(conductor, time=0))
    conductor.events.append(end_of_track)
    conductor.updateEvents()
    return midi_file.writestr()


# --- MIDI -> audio ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedAudio:
    path: Path
    sha256: str
    duration_seconds: float
    sample_rate: int
    #: How repeats were handled (see the module doc); empty for a render of plain MIDI.
    repeats: str = ""


def render_midi(
    midi_data: bytes, *, renderer: Renderer, out_path: Path, seconds: float, sample_rate: int
) -> RenderedAudio:
    """Render MIDI bytes to a mono FLAC of at most ``seconds`` at ``sample_rate``, written atomically."""
    with tempfile.TemporaryDirectory(prefix="leitmotif-render-") as work:
        midi_path = Path(work) / "score.mid"
        wav_path = Path(work) / "render.wav"
        midi_path.write_bytes(midi_data)
        command = [
            renderer.binary,
            "-n",
            "-i",
            "-q",
            "-g",
            str(FLUIDSYNTH_GAIN),
            "-r",
            str(sample_rate),
            "-F",
            str(wav_path),
            "-T",
            "wav",
            "-O",
            "s16",
            str(renderer.soundfont),
            str(midi_path),
        ]
        try:
            completed = subprocess.run(
                command, capture_output=True, text=True, timeout=RENDER_TIMEOUT_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            raise AudioRenderError(f"FluidSynth did not finish within {RENDER_TIMEOUT_SECONDS} s.") from None
        if completed.returncode != 0 or not wav_path.is_file():
            detail = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
            raise AudioRenderError(f"FluidSynth failed (exit code {completed.returncode}): {detail[0]}")
        audio, rate = sf.read(wav_path, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    keep = min(len(mono), int(round(seconds * rate)))
    mono = mono[:keep]
    rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64)))) if keep else 0.0
    if rms < SILENT_RENDER_RMS:
        raise AudioRenderError(f"the rendered excerpt is silent (no notes sound in the first {seconds:g} s).")
    if keep == int(round(seconds * rate)):  # cut mid-music: fade out instead of clicking
        fade = min(keep, int(FADE_SECONDS * rate))
        mono[keep - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    mono *= np.float32(10 ** (PEAK_DBFS / 20) / max(float(np.abs(mono).max()), 1e-9))
    buffer = _flac_bytes(mono, rate)
    atomic_write_bytes(out_path, buffer)
    return RenderedAudio(
        path=out_path, sha256=hashlib.sha256(buffer).hexdigest(), duration_seconds=keep / rate, sample_rate=rate
    )


def _flac_bytes(mono: np.ndarray, rate: int) -> bytes:
    import io

    buffer = io.BytesIO()
    sf.write(buffer, mono, rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def render_score(
    score, *, programs: list[int], renderer: Renderer, out_path: Path, seconds: float, sample_rate: int
) -> RenderedAudio:
    """The first ``seconds`` of a parsed music21 score as a FLAC at ``out_path`` (see the module doc)."""
    performed, repeats = as_performed(score)
    part = excerpt(performed, seconds)
    strip_repeats(part)  # nothing left to expand: music21's MIDI export must not try again on a cut excerpt
    if programs:
        apply_programs(part, programs)
    result = render_midi(
        midi_bytes(part), renderer=renderer, out_path=out_path, seconds=seconds, sample_rate=sample_rate
    )
    return dataclasses.replace(result, repeats=repeats)
