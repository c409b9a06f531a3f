"""Loading the full Last.FM graph into each backend: seconds and triples per second.

Measures only the graph write (entities, then relations, through ``kg.services.graph_upsert`` with the
default batch size) on an empty store, then a second, idempotent run of the same load. Parsing the
files is timed separately. Usage: ``python benchmarks/kg_load.py [--backends sql neo4j]``.
"""

from __future__ import annotations

import argparse
import time

from _common import data_dir, django_setup_on_scratch_db, neo4j_store_for_benchmark, save_result


def measure(store, records) -> dict:
    from kg.services import graph_upsert

    store.clear()
    t0 = time.perf_counter()
    first = graph_upsert(
        store=store, entities=records.entities, relations=records.relations, progress=True, description="first load"
    )
    t1 = time.perf_counter()
    second = graph_upsert(
        store=store, entities=records.entities, relations=records.relations, progress=True, description="re-run"
    )
    t2 = time.perf_counter()
    stats = store.stats()
    assert stats.relations == len(records.relations), "every relation must be stored"
    assert first.relations.created == len(records.relations) and second.written == 0
    return {
        "entities": stats.entities,
        "triples": stats.relations,
        "first_load_seconds": round(t1 - t0, 3),
        "triples_per_second": round(stats.relations / (t1 - t0), 1),
        "records_per_second": round((stats.relations + stats.entities) / (t1 - t0), 1),
        "idempotent_rerun_seconds": round(t2 - t1, 3),
        "rerun_written": second.written,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", nargs="+", default=["sql", "neo4j"], choices=["sql", "neo4j"])
    args = parser.parse_args()
    django_setup_on_scratch_db()
    from ingestion.loaders.lastfm import kgcn_graph_records, kgcn_subset_select, lastfm_dataset_read

    t0 = time.perf_counter()
    subset = kgcn_subset_select(dataset=lastfm_dataset_read(data_dir=data_dir()))
    records = kgcn_graph_records(subset=subset)
    parse_seconds = time.perf_counter() - t0

    results = {}
    for backend in args.backends:
        if backend == "sql":
            from kg.stores.sql import SqlGraphStore

            results["sql"] = measure(SqlGraphStore(), records)
        else:
            with neo4j_store_for_benchmark() as store:
                results["neo4j"] = measure(store, records)
        print(backend, results[backend])
    save_result(
        "kg_load",
        {"parse_seconds": round(parse_seconds, 3), "batch_size": 1000, "sql_database": "sqlite", "backends": results},
    )


if __name__ == "__main__":
    main()
