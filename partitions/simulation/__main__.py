"""`python -m raybee.partitions.simulation SEED [--trace]`: replay one seed of the partition
simulator (RAYBEE_MUTANT=name plants one of mutations.py's bugs first)."""

import argparse
import json
import sys

from .mutations import planted_from_env
from .simulator import PartitionSimulator, SimulationFailure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raybee.partitions.simulation")
    parser.add_argument("seed", type=int)
    parser.add_argument("--trace", action="store_true", help="print the whole trace")
    opts = parser.parse_args(argv)
    with planted_from_env() as mutant:
        if mutant is not None:
            print(f"mutant planted: {mutant.name} ({mutant.bug})")
        sim = PartitionSimulator(opts.seed, trace_all=opts.trace)
        try:
            report = sim.run()
        except SimulationFailure as failure:
            if opts.trace:
                print("\n".join(failure.trace))
                print("---")
            print(failure)
            return 1
    if opts.trace:
        print("\n".join(sim.trace))
    print(json.dumps(vars(report), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
