"""Child process of the cache crash test: takes tuples in a loop and prints what it took.

    python cache_crash_child.py DB SEED

Each line printed (and flushed) after a take is ``take <hex of the first share
of each tuple, comma separated>``: the parent treats printed tuples as handed
out. The parent kills this process with SIGKILL at a random moment.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from offchain.errors import TuplesExhausted  # noqa: E402
from offchain.preprocessing.cache import TupleCache  # noqa: E402
from offchain.preprocessing.tuples import TupleKey, TupleKind  # noqa: E402

TRIPLE = TupleKey(TupleKind.TRIPLE)


def main() -> None:
    cache = TupleCache(sys.argv[1])
    rng = random.Random(int(sys.argv[2]))
    print("ready", flush=True)
    while True:
        try:
            taken = cache.take(TRIPLE, rng.randint(1, 12))
        except TuplesExhausted:
            print("exhausted", flush=True)
            return
        ids = ",".join(format(v, "x") for v in taken.columns[0].share.to_ints())
        print(f"take {ids}", flush=True)


if __name__ == "__main__":
    main()
