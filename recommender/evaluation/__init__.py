"""Honest offline evaluation: seeded splits, full-ranking metrics and run reports.

Import from the submodules: ``splits`` (protocols T, C, sparsity, cold start; TSV export/import),
``metrics`` (formulas), ``evaluator`` (``evaluate_topk``, ``evaluate_ctr``) and ``report``; for
learning-platform metrics and re-ranked runs: ``learning_metrics`` (EMS, ERS, ARP, long tail, ILD),
``moods`` (the mood lexicon), ``concepts`` (item → curriculum concept links) and ``beyond_accuracy``
(``evaluate_reranked``, ``reranked_experiment_run``).
"""
