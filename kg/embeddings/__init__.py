"""Knowledge-graph embeddings (TransE, ComplEx) trained with PyKEEN on our own triples.

Modules: :mod:`.config` (versioned model registry and the run config), :mod:`.triples` (id maps and
splits), :mod:`.sources` (graph store, catalog interactions, benchmark files), :mod:`.training`
(train + filtered evaluation), :mod:`.artifacts` (versioned, checksummed artifact directories),
:mod:`.benchmarking` (the runner behind ``benchmarks/kge_*.py``), :mod:`.warm_start` (refresh a saved artifact
after the graph changed instead of training from scratch). Nothing here downloads anything.
"""
