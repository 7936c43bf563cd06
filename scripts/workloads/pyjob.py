#!/usr/bin/env python3
"""pyjob.py [RECORDS] [PASSES]: a Python data job for `uswap run` (issue 11's real programs).

Builds RECORDS order records (dicts with strings and floats: CPython objects in pymalloc arenas
and, for the long strings, in mimalloc/glibc blocks), then PASSES times: updates every record,
aggregates them per customer, and prints a digest of the aggregates. Deterministic: the output
depends only on the arguments. Unmanaged peak at the defaults: about 300 MiB of anonymous memory.
"""
import hashlib
import sys

records = int(sys.argv[1]) if len(sys.argv) > 1 else 400000
passes = int(sys.argv[2]) if len(sys.argv) > 2 else 2


def lcg(x):
    return (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF


orders = []
x = 12345
for i in range(records):
    x = lcg(x)
    orders.append({
        "id": i,
        "customer": f"c{(x >> 20) % 5000:05d}",
        "amount": ((x >> 8) % 100000) / 100.0,
        "note": "item-" + str(x % 99991) * (1 + (x >> 40) % 12),
        "tags": [f"t{(x >> s) % 37}" for s in (3, 9, 17)],
    })
print(f"built {len(orders)} records", flush=True)

for p in range(passes):
    totals = {}
    for o in orders:
        x = lcg(x)
        o["amount"] = round(o["amount"] * 1.01 + (x % 7), 2)
        if x % 5 == 0:
            o["note"] = o["note"][1:] + o["note"][:1]
        t = totals.setdefault(o["customer"], [0, 0.0, 0])
        t[0] += 1
        t[1] += o["amount"]
        t[2] += len(o["note"])
    h = hashlib.sha256()
    for k in sorted(totals):
        c, a, n = totals[k]
        h.update(f"{k}:{c}:{a:.2f}:{n};".encode())
    print(f"pass {p}: {len(totals)} customers, digest {h.hexdigest()[:32]}", flush=True)
