"""Checks fix 6 of `sitecustomize.py`: moto's Kinesis shard, replaced, answers exactly as moto's own.

Run by `tests/it/sitecustomize.rs` with the tools virtualenv's Python. Builds shards of 0 to 60
records (some with keys removed), asks both implementations for the records after many iterator
positions and limits, and compares records, next position and lag; then prints what 1,000 puts
and one read cost on a shard of 100,000 records. Exits 1 on the first difference.
"""

import os
import random
import sys
import time

from moto.kinesis.models import Shard

moto_own = (Shard.get_records, Shard.get_max_sequence_number, Shard.get_min_sequence_number)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import sitecustomize  # noqa: E402,F401  (replaces the three methods)

replaced = (Shard.get_records, Shard.get_max_sequence_number, Shard.get_min_sequence_number)
if replaced == moto_own:
    sys.exit("sitecustomize.py did not replace moto's Kinesis shard methods")

rng = random.Random(6)
compared = 0
for trial in range(2000):
    shard = Shard(0, 0, 2**128)
    count = rng.randint(0, 60)
    for _ in range(count):
        shard.put_record("key", "ZGF0YQ==", None)
    if count and rng.random() < 0.3:
        for key in rng.sample(list(shard.records), rng.randint(0, count)):
            del shard.records[key]
    for _ in range(20):
        after = str(rng.randint(-2, count + 3))
        limit = rng.choice([None, 0, 1, 5, 100])
        own = moto_own[0](shard, after, limit)
        new = replaced[0](shard, after, limit)
        # The lag is whole milliseconds computed from the same floats: equal but for rounding.
        if own[:2] != new[:2] or abs(own[2] - new[2]) > 1:
            sys.exit(f"get_records({after}, {limit}) differs on shard {list(shard.records)}: {own} vs {new}")
        compared += 1
    for own_method, new_method in zip(moto_own[1:], replaced[1:]):
        if own_method(shard) != new_method(shard):
            sys.exit(f"{own_method.__name__} differs on shard {list(shard.records)}")

shard = Shard(0, 0, 2**128)
for _ in range(100_000):
    shard.put_record("key", "ZGF0YQ==", None)
started = time.perf_counter()
for _ in range(1000):
    shard.put_record("key", "ZGF0YQ==", None)
puts = time.perf_counter() - started
started = time.perf_counter()
shard.get_records(str(len(shard.records) - 500), 10000)
read = time.perf_counter() - started
print(f"{compared} reads answered as moto's own; on a shard of 100,000 records 1,000 puts took "
      f"{puts:.3f} s and a read of the newest 500 {read * 1000:.2f} ms")
