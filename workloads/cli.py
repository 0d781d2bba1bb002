"""The `raybee` command line: `raybee demo`, `raybee bench <area> [--json]`,
`raybee start | status | stop` (raybee in a Ray cluster: workloads/cluster_cli.py), `raybee gateway`
(the Zeebe-compatible gRPC gateway: actors/gateway/command.py)."""

import argparse
import importlib
import json
import os
import sys

BENCH_AREAS = (
    "journal",
    "protocol",
    "raft",
    "state",
    "engine",
    "feel",
    "replica",
    "cluster",
    "gateway",
)
CLUSTER_COMMANDS = {
    "start": "deploy raybee into a Ray cluster (or start a local one)",
    "status": "print brokers, replicas, lag, health and the supervisor's events",
    "stop": "stop raybee (and the local cluster `raybee start` started)",
}


def _bench(area: str, rest: list[str]) -> int:
    module = importlib.import_module(f"raybee.workloads.bench_{area}")
    as_json = "--json" in rest
    load_before = os.getloadavg()
    figures = module.run([arg for arg in rest if arg != "--json"])
    # What the machine was doing is measured, never typed in: a figure taken while other jobs
    # ran shows it in the load averages.
    figures.setdefault("cores", os.cpu_count())
    figures.setdefault("load_average_before", [round(x, 2) for x in load_before])
    figures.setdefault("load_average_after", [round(x, 2) for x in os.getloadavg()])
    if as_json:
        print(json.dumps(figures, sort_keys=True))
    else:
        width = max(len(name) for name in figures)
        for name, value in figures.items():
            print(
                f"{name:<{width}}  {value:,.3f}"
                if isinstance(value, float)
                else f"{name:<{width}}  {value}"
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="raybee", description="A Zeebe-style workflow engine on Ray."
    )
    commands = parser.add_subparsers(dest="command")
    demo = commands.add_parser("demo", help="show what raybee does today, on this machine")
    demo.add_argument("--dir", help="working directory (default: a temporary one)")
    bench = commands.add_parser("bench", help="measure one area and print its figures")
    bench.add_argument("area", choices=BENCH_AREAS)
    for name, text in CLUSTER_COMMANDS.items():
        commands.add_parser(name, help=text, add_help=False)
    commands.add_parser(
        "gateway", help="serve Zeebe's gRPC gateway protocol for raybee", add_help=False
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "gateway":
        from raybee.actors.gateway.command import main as gateway_main

        return gateway_main(rest)
    if args.command == "bench":
        return _bench(args.area, rest)
    if args.command in CLUSTER_COMMANDS:
        from raybee.workloads.cluster_cli import main as cluster_main

        return cluster_main(args.command, rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "demo":
        from raybee.workloads.demo import run_demo

        return run_demo(args.dir)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
