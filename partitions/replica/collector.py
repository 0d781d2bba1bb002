"""Python's cyclic garbage collector in a process that hosts partition replicas.

CPython (3.11) collects its youngest generation every 700 net allocations of container
objects, and every object that lives through two such collections counts towards a full
collection, which walks every live object. A replica's data path allocates in bursts: a
batch of decoded records, their values, the engine's cached jobs, the records of an entry
held until it commits - objects that live a few milliseconds, long enough to be promoted at
700, and three replicas' job caches (hundreds of thousands of objects) are walked again and
again. Measured on `raybee bench replica` (20,000 job lifecycles, three replicas in one
process, two runs each; CPU seconds of the lifecycles, the collector's share in brackets):
threshold 700: 6.3, 6.3 s (1.6, 1.6 s); 2,000: 5.5, 5.3 s (0.8, 0.8 s); 5,000: 5.0, 5.3 s
(0.5, 0.6 s); 10,000: 5.2, 4.6 s (0.35, 0.29 s); 50,000: 4.8, 4.5 s (0.23, 0.22 s); peak
RSS 484 MB at each. Reference counting still frees every acyclic object at once; only
garbage in cycles waits longer.

`PartitionReplica.open` calls `tune_collector()`, so every host of replicas (a broker, the
simulator, a benchmark) runs with the same collector the benchmarks measured. It only ever
raises the young threshold: a host that set a higher one, or disabled the collector, keeps
its choice.
"""

import gc

# Net container allocations between two collections of the youngest generation.
YOUNG_COLLECTION_ALLOCATIONS = 10_000


def tune_collector() -> None:
    young, middle, old = gc.get_threshold()
    if 0 < young < YOUNG_COLLECTION_ALLOCATIONS:
        gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, middle, old)
