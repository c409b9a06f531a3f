"""Audio, in one place (app label ``audio``, no models): decoding and log-mel features with a content-hash
cache, FluidSynth rendering, spectrogram pictures, the music21 works catalogue loader, the audio encoder
(:mod:`audio.encoder`) and the upload API. Layer: above :mod:`recommender` (the encoder reuses its
baselines and data), beside :mod:`curriculum`.

Public API (import from the submodules; this package imports nothing heavy, so the URL configuration
that mounts ``api_urls`` does not pay for librosa):

* :mod:`.features` - ``MelConfig``, ``AudioClip``, ``load_audio``, ``log_mel``, ``fixed_length_crops``,
  ``crops_for``, ``sniff_format``;
* :mod:`.cache` - ``cached_features``, ``cached_log_mel``, ``feature_cache_dir``;
* :mod:`.spectrogram` - ``spectrogram_png``;
* :mod:`.render` - ``fluidsynth_renderer``, ``render_score``, ``render_midi`` (scores to audio).
"""
