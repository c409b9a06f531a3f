"""Serving: the published model held per process, recommendations with explanations, and learners' events.

* :mod:`.model_holder` — the published artifact, loaded once per process and swapped atomically;
* :mod:`.selectors` — ``recommendations_for_listener`` (music and courses) and ``listener_history``;
* :mod:`.services` — ``learner_listener``, ``interaction_record``, ``interests_set``.
"""
