"""Audio-grounded cold start: predict a recording's place in the knowledge graph from its sound.

The encoder (:mod:`audio.encoder.model`) maps a 128-band log-mel crop (plus optional side
information: composer, era, form, instrumentation) to the work's vector in a trained target space —
by default the work entity's PyKEEN graph embedding. A new clip is then placed next to the graph
entities and works whose vectors it lands near.

Modules: :mod:`.config` (the run config, JSON-saved in every artifact), :mod:`.targets` (registry of
target spaces: ``kge``, ``wmf``), :mod:`.dataset` (works → examples, seeded split), :mod:`.training`
(train, early stopping, evaluation), :mod:`.metrics`, :mod:`.comparison` (every variant on one split),
:mod:`.artifacts` (versioned folders),
:mod:`.neighbours` (entity scoring and similar works), :mod:`.service` (the cold-start entry point the
API and pages call).

What is *not* done here, on purpose: the product recommender ranks Last.FM artists, and the Last.FM
data has no audio, so ``f_audio`` (the predicted vector) is available to a content-based model as an
optional input but is not used by the Last.FM recommender.
"""
