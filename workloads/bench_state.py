"""Benchmarks of the state store (`raybee bench state`).

Two parts:
- `run(args)`: figures of the real `RocksDBStore` API (typed codecs, transactions = one
  WriteBatch each, WAL off; 1M keys of (int, int) with 64-byte values over 10 families):
  puts_per_s in transactions of 100 puts, gets_per_s (random keys), prefix_scan_keys_per_s
  (prefix scans of 10 keys), checkpoint_s_1m_keys (right after the writes, memtables full)
  and open_checkpoint_s_1m_keys (hard-link copy + open); with --keys N the last two are named
  for N instead.
- `--layouts`: the raw rocksdict comparison that decided how column families are laid out
  (physical RocksDB column families versus one keyspace with key prefixes). It bypasses the
  store on purpose so both layouts are measured with the same thin code.

Every figure is the best of `--repeats` runs: the machine is shared, so the best run is the one
least disturbed by other processes.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

import rocksdict

from raybee.state import BYTES_VALUE, ColumnFamily, RocksDBStore, tuple_key

families_count = 10
keys_total_default = 1_000_000
batch_puts = 100
keys_per_group = 10  # keys sharing one prefix: what a prefix scan returns
gets_sampled = 100_000
prefix_scans_sampled = 10_000
value_bytes = 64


# --------------------------------------------------------------------------- layouts (raw)


def _raw_options(shared_budget: bool) -> rocksdict.Options:
    options = rocksdict.Options(raw_mode=True)
    options.create_if_missing(True)
    options.create_missing_column_families(True)
    if shared_budget:
        # What RocksDBStore does: one write-buffer budget for all families, atomic flushes.
        options.set_db_write_buffer_size(64 << 20)
        options.set_atomic_flush(True)
    return options


def _layout_run(physical: bool, shared_budget: bool, keys_total: int, seed: int) -> dict:
    """One pass over one layout: puts, gets, prefix scans, checkpoint; seconds of each."""
    rng = random.Random(seed)
    root = Path(tempfile.mkdtemp(prefix="raybee-bench-layout-"))
    try:
        options = _raw_options(shared_budget)
        names = [f"family{i}" for i in range(families_count)]
        if physical:
            db = rocksdict.Rdict(
                str(root / "db"),
                options,
                column_families={name: _raw_options(shared_budget) for name in names},
            )
            handles = [db.get_column_family_handle(name) for name in names]
            readers = [db.get_column_family(name) for name in names]
            prefixes = [b""] * families_count
        else:
            db = rocksdict.Rdict(str(root / "db"), options)
            handles = [None] * families_count
            readers = [db] * families_count
            prefixes = [name.encode() + b"\x00" for name in names]
        write_options = rocksdict.WriteOptions()
        write_options.disable_wal = True
        value = bytes(value_bytes)
        per_family = keys_total // families_count
        groups = per_family // keys_per_group

        def key_of(index: int) -> bytes:
            return (index // keys_per_group).to_bytes(8, "big") + (index % keys_per_group).to_bytes(
                8, "big"
            )

        started = time.perf_counter()
        batch = rocksdict.WriteBatch(raw_mode=True)
        # Round-robin over families, as a command batch touching several families would.
        for index in range(per_family):
            key = key_of(index)
            for family in range(families_count):
                batch.put(prefixes[family] + key, value, handles[family])
                if len(batch) >= batch_puts:
                    db.write(batch, write_options)
                    batch = rocksdict.WriteBatch(raw_mode=True)
        if len(batch):
            db.write(batch, write_options)
        puts_s = time.perf_counter() - started

        probes = [
            (rng.randrange(families_count), rng.randrange(per_family)) for _ in range(gets_sampled)
        ]
        started = time.perf_counter()
        for family, index in probes:
            got = readers[family].get(prefixes[family] + key_of(index))
            assert got is not None
        gets_s = time.perf_counter() - started

        scans = [
            (rng.randrange(families_count), rng.randrange(groups))
            for _ in range(prefix_scans_sampled)
        ]
        scanned = 0
        started = time.perf_counter()
        for family, group in scans:
            prefix = prefixes[family] + group.to_bytes(8, "big")
            upper = prefixes[family] + (group + 1).to_bytes(8, "big")
            read_options = rocksdict.ReadOptions()
            read_options.set_iterate_upper_bound(upper)
            for _key, _value in readers[family].items(from_key=prefix, read_opt=read_options):
                scanned += 1
        scan_s = time.perf_counter() - started
        assert scanned == prefix_scans_sampled * keys_per_group, scanned

        started = time.perf_counter()
        if physical:
            for reader in readers:
                reader.flush(True)
        else:
            db.flush(True)
        rocksdict.Checkpoint(db).create_checkpoint(str(root / "checkpoint"))
        checkpoint_s = time.perf_counter() - started
        sst_files = len(list((root / "checkpoint").glob("*.sst")))
        db.close()
        return {
            "puts_per_s": keys_total / puts_s,
            "gets_per_s": gets_sampled / gets_s,
            "prefix_scan_keys_per_s": scanned / scan_s,
            "checkpoint_s": checkpoint_s,
            "checkpoint_sst_files": sst_files,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def compare_layouts(keys_total: int, repeats: int, seed: int) -> dict:
    figures: dict[str, dict] = {}
    layouts = (
        ("physical_column_families", True, False),
        ("key_prefixes", False, False),
        ("physical_column_families_shared_budget", True, True),
        ("key_prefixes_shared_budget", False, True),
    )
    for layout, physical, shared_budget in layouts:
        runs = [_layout_run(physical, shared_budget, keys_total, seed + r) for r in range(repeats)]
        figures[layout] = {
            "puts_per_s": round(max(r["puts_per_s"] for r in runs)),
            "gets_per_s": round(max(r["gets_per_s"] for r in runs)),
            "prefix_scan_keys_per_s": round(max(r["prefix_scan_keys_per_s"] for r in runs)),
            "checkpoint_s": round(min(r["checkpoint_s"] for r in runs), 4),
            "checkpoint_sst_files": runs[0]["checkpoint_sst_files"],
        }
    return figures


# --------------------------------------------------------------------------- store API


def _store_run(keys_total: int, seed: int) -> dict:
    rng = random.Random(seed)
    root = Path(tempfile.mkdtemp(prefix="raybee-bench-state-"))
    try:
        families = [
            ColumnFamily(f"family{i}", tuple_key(int, int), BYTES_VALUE)
            for i in range(families_count)
        ]
        store = RocksDBStore(root / "db", families)
        value = bytes(value_bytes)
        per_family = keys_total // families_count
        groups = per_family // keys_per_group
        puts_total = per_family * families_count

        # Entry i goes to family i % 10: every transaction touches every family, like a
        # processed command batch touching several kinds of state.
        started = time.perf_counter()
        for start in range(0, puts_total, batch_puts):
            with store.transaction() as txn:
                for entry in range(start, min(start + batch_puts, puts_total)):
                    index = entry // families_count
                    key = (index // keys_per_group, index % keys_per_group)
                    txn.put(families[entry % families_count], key, value)
        puts_s = time.perf_counter() - started

        # Right after the writes, while the memtables are fullest: the costly case.
        started = time.perf_counter()
        store.checkpoint(root / "checkpoint")
        checkpoint_s = time.perf_counter() - started
        started = time.perf_counter()
        copy = RocksDBStore.open_checkpoint(root / "checkpoint", root / "copy", families)
        open_checkpoint_s = time.perf_counter() - started
        assert copy.view().count(families[-1]) == per_family
        copy.close()

        view = store.view()
        probes = [
            (families[rng.randrange(families_count)], rng.randrange(per_family))
            for _ in range(gets_sampled)
        ]
        started = time.perf_counter()
        for family, index in probes:
            got = view.get(family, (index // keys_per_group, index % keys_per_group))
            assert got is not None
        gets_s = time.perf_counter() - started

        scans = [
            (families[rng.randrange(families_count)], rng.randrange(groups))
            for _ in range(prefix_scans_sampled)
        ]
        scanned = 0
        started = time.perf_counter()
        for family, group in scans:
            for _key, _value in view.prefix(family, (group,)):
                scanned += 1
        scan_s = time.perf_counter() - started
        assert scanned == prefix_scans_sampled * keys_per_group, scanned
        store.close()
        return {
            "puts_per_s": puts_total / puts_s,
            "gets_per_s": gets_sampled / gets_s,
            "prefix_scan_keys_per_s": scanned / scan_s,
            "checkpoint_s": checkpoint_s,
            "open_checkpoint_s": open_checkpoint_s,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _keys_label(keys: int) -> str:
    """1000000 -> "1m", 200000 -> "200k": the figure names say what was measured."""
    if keys % 1_000_000 == 0:
        return f"{keys // 1_000_000}m"
    if keys % 1_000 == 0:
        return f"{keys // 1_000}k"
    return str(keys)


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="raybee bench state")
    parser.add_argument("--keys", type=int, default=keys_total_default)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layouts", action="store_true", help="compare the raw layouts instead")
    parser.add_argument("--json", action="store_true", help="accepted for the CLI; output is json")
    options = parser.parse_args(args)
    if options.layouts:
        return compare_layouts(options.keys, options.repeats, options.seed)
    runs = [_store_run(options.keys, options.seed + r) for r in range(options.repeats)]
    return {
        "keys": options.keys,
        "families": families_count,
        "batch_puts": batch_puts,
        "repeats": options.repeats,
        "puts_per_s": round(max(r["puts_per_s"] for r in runs)),
        "gets_per_s": round(max(r["gets_per_s"] for r in runs)),
        "prefix_scan_keys_per_s": round(max(r["prefix_scan_keys_per_s"] for r in runs)),
        # Not scaled from smaller runs: a checkpoint's cost is mostly flushing the memtables,
        # which does not grow linearly with the key count.
        f"checkpoint_s_{_keys_label(options.keys)}_keys": round(
            min(r["checkpoint_s"] for r in runs), 4
        ),
        f"open_checkpoint_s_{_keys_label(options.keys)}_keys": round(
            min(r["open_checkpoint_s"] for r in runs), 4
        ),
    }


def _main() -> None:
    import sys

    print(json.dumps(run(sys.argv[1:]), indent=2))


if __name__ == "__main__":
    _main()
