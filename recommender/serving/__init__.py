"""Serving: the published model held per process, recommendations with explanations, and learners' events.

* :mod:`.model_holder` — the published artifact, loaded once per process and swapped atomically;
* :mod:`.selectors` — ``recommendations_for_listener`` (music and courses), ``recommendation_list_for_listener``
  (the same with re-ranking and the list's EMS/ERS) and ``listener_history``;
* :mod:`.learning` — the ``rerank`` / ``unit`` / ``mood`` parameters and the item facts re-rankers read;
* :mod:`.services` — ``learner_listener``, ``interaction_record``, ``interests_set``.
"""
