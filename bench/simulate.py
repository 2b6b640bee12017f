"""The synthetic national year, full size: build it, send it through a fresh gateway and
register over mutual TLS, and print the register's linkage score and where the time went.

    .venv/bin/python bench/simulate.py [--children 5000] [--seed 2021] [--year 2021]

The stack lives under `var/bench-simulate/` (its logs stay there for a look afterwards). The
figures are printed, never asserted: missing the 1 % / 0.99 goals is a finding, not a failure.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from registry.simulate import simulate_in_new_stack

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--year", type=int, default=2021)
    parser.add_argument("--root", type=Path, default=ROOT / "var" / "bench-simulate")
    args = parser.parse_args(argv)
    shutil.rmtree(args.root, ignore_errors=True)
    started = time.monotonic()
    score = simulate_in_new_stack(args.root, children=args.children, seed=args.seed, year=args.year)
    elapsed = time.monotonic() - started
    print(f"synthetic year {args.year}: {args.children} children, seed {args.seed}\n")
    print(score.report())
    print(f"\nwall time, stack start and stop included: {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
