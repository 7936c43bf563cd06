# A Python interpreter holding a dict of records (tuples, floats, strings, lists), for
# scripts/make-corpus.sh. Deterministic contents: python3 records.py ENTRIES SEED.
# Prints "ready" once the dict is built, then sleeps until it is killed.
import random
import string
import sys
import time

entries = int(sys.argv[1]) if len(sys.argv) > 1 else 250000
random.seed(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
letters = string.ascii_letters + string.digits
table = {}
for i in range(entries):
    name = "".join(random.choice(letters) for _ in range(random.randint(16, 64)))
    table[f"k{random.getrandbits(40):010x}"] = {
        "name": name,
        "price": round(random.uniform(0, 5000), 2),
        "weight": random.random(),
        "stock": [random.randint(0, 999) for _ in range(random.randint(1, 6))],
        "serial": i,
        "token": random.randbytes(random.randint(32, 128)),
    }
print("ready", len(table), flush=True)
time.sleep(3600)
