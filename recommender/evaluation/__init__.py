"""Honest offline evaluation: seeded splits, full-ranking metrics and run reports.

Import from the submodules: ``splits`` (protocols T, C, sparsity, cold start; TSV export/import),
``metrics`` (formulas), ``evaluator`` (``evaluate_topk``, ``evaluate_ctr``) and ``report``.
"""
