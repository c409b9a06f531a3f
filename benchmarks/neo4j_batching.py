"""Neo4j: batched ``UNWIND … MERGE`` writes against one query per triple, on the same data.

Both runs use the production write path (``Neo4jGraphStore.upsert_relations``) on an empty set of
relations over already-loaded entities: once with the default batch size (one transaction per 1,000
rows), once with ``batch_size=1`` (one query and one transaction per triple). The one-per-triple run
uses the first ``--sample`` triples to keep it short; the batched run is measured on the same sample
and on the full graph. Usage: ``python benchmarks/neo4j_batching.py [--sample 2000]``.
"""

from __future__ import annotations

import argparse
import time

from _common import data_dir, django_setup_on_scratch_db, neo4j_store_for_benchmark, save_result


def timed_relations(store, relations, batch_size: int) -> float:
    for r in relations:
        store.delete_relation(r.head, r.type, r.tail)
    t0 = time.perf_counter()
    result = store.upsert_relations(relations, batch_size=batch_size)
    seconds = time.perf_counter() - t0
    assert result.created == len(relations)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, default=2000)
    args = parser.parse_args()
    django_setup_on_scratch_db()
    from ingestion.loaders.lastfm import kgcn_graph_records, kgcn_subset_select, lastfm_dataset_read

    records = kgcn_graph_records(subset=kgcn_subset_select(dataset=lastfm_dataset_read(data_dir=data_dir())))
    sample = records.relations[: args.sample]
    with neo4j_store_for_benchmark() as store:
        store.clear()
        store.upsert_entities(records.entities)
        single = timed_relations(store, sample, batch_size=1)
        batched_sample = timed_relations(store, sample, batch_size=1000)
        store.clear()
        store.upsert_entities(records.entities)
        t0 = time.perf_counter()
        store.upsert_relations(records.relations, batch_size=1000)
        batched_full = time.perf_counter() - t0
    result = {
        "sample_triples": len(sample),
        "one_query_per_triple": {"seconds": round(single, 3), "triples_per_second": round(len(sample) / single, 1)},
        "batched_unwind_sample": {
            "batch_size": 1000,
            "seconds": round(batched_sample, 3),
            "triples_per_second": round(len(sample) / batched_sample, 1),
        },
        "batched_unwind_full": {
            "batch_size": 1000,
            "triples": len(records.relations),
            "seconds": round(batched_full, 3),
            "triples_per_second": round(len(records.relations) / batched_full, 1),
        },
        "speedup_same_data": round(single / batched_sample, 1),
    }
    print(result)
    save_result("neo4j_batching", result)


if __name__ == "__main__":
    main()
