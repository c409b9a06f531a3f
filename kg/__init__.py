"""The knowledge graph: one store interface with SQL and Neo4j backends (:mod:`kg.stores`), every graph
write and delete (:mod:`kg.services`), reads (:mod:`kg.selectors`), the audit trail of changes
(:mod:`kg.audit`) and PyKEEN embeddings (:mod:`kg.embeddings`).

Layer: above :mod:`api`, :mod:`catalog` and :mod:`core`; everything that touches the graph goes through here.
"""
