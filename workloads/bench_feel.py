"""`raybee bench feel` (wired by the lead): the FEEL evaluator on one core.

- feel_evals_per_s: cached (parsed once) expressions evaluated round-robin over MIX, a mix of
  exclusive-gateway conditions and input/output mappings, against one instance's variables
  (JSON values, floats included, as the engine holds them);
- feel_simple_conditions_evals_per_s: the two conditions of the target (>= 100,000/s):
  `amount > 100` and `status = "open" and priority >= 3`;
- feel_parses_per_s: parse + compile of the MIX expressions (what a deployment pays once per
  expression).

Each figure is the best of `--repeats` runs; every run is reported too.
"""

import argparse
import datetime as dt
import json
import sys
import time

from raybee.partitions.engine.feel import parse, to_json_value

# (expression, what it stands for). Conditions first, then mappings.
MIX = (
    ("amount > 100", "gateway condition"),
    ('status = "open" and priority >= 3', "gateway condition"),
    ('order.total >= 1000 or customer.tier = "gold"', "gateway condition"),
    ("not(approved)", "gateway condition"),
    ('some risk in riskLevels satisfies risk = "red"', "gateway condition"),
    ("count(order.items) > 3", "gateway condition"),
    ("order.customer.id", "input mapping"),
    ('"Hello " + customer.name + ", your order " + string(order.id) + " shipped"', "mapping"),
    ("{id: order.id, total: order.total, express: order.total > 500}", "output mapping"),
    ("sum(order.items.price)", "output mapping"),
    ("order.items[price > 20].sku", "output mapping"),
    ('if result != null then result.riskLevel else ["green"]', "output mapping"),
    ('now() + duration("PT5M")', "timer"),
)
SIMPLE_CONDITIONS = ("amount > 100", 'status = "open" and priority >= 3')

VARIABLES = {
    "amount": 250.75,
    "status": "open",
    "priority": 4,
    "approved": True,
    "riskLevels": ["green", "yellow", "green"],
    "customer": {"name": "Ada", "tier": "silver", "email": "ada@example.com"},
    "order": {
        "id": 4711,
        "total": 612.5,
        "customer": {"id": "C-17"},
        "items": [
            {"sku": "A-1", "price": 19.99, "quantity": 2},
            {"sku": "B-2", "price": 45.5, "quantity": 1},
            {"sku": "C-3", "price": 5.0, "quantity": 10},
            {"sku": "D-4", "price": 120.0, "quantity": 1},
        ],
    },
    "result": None,
    "note": "x" * 60,
}
NOW = dt.datetime(2024, 3, 15, 10, 30, tzinfo=dt.UTC)  # the command's timestamp


def _evals_per_s(expressions: list, evaluations: int) -> float:
    rounds = max(1, evaluations // len(expressions))
    start = time.perf_counter()
    for _ in range(rounds):
        for expression in expressions:
            expression.evaluate(VARIABLES, now=NOW)
    return rounds * len(expressions) / (time.perf_counter() - start)


def _parses_per_s(sources: list[str], parses: int) -> float:
    rounds = max(1, parses // len(sources))
    start = time.perf_counter()
    for _ in range(rounds):
        for source in sources:
            parse(source)
    return rounds * len(sources) / (time.perf_counter() - start)


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="raybee bench feel")
    parser.add_argument("--evals", type=int, default=300_000, help="evaluations per run")
    parser.add_argument("--parses", type=int, default=3_000, help="parses per run")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    opts = parser.parse_args(args)
    mix = [parse(source) for source, _ in MIX]
    simple = [parse(source) for source in SIMPLE_CONDITIONS]
    for expression in mix:  # every expression must work before it is timed
        json.dumps(to_json_value(expression.evaluate(VARIABLES, now=NOW)))
    mixed, conditions, parses = [], [], []
    for _ in range(opts.repeats):
        mixed.append(_evals_per_s(mix, opts.evals))
        conditions.append(_evals_per_s(simple, opts.evals))
        parses.append(_parses_per_s([source for source, _ in MIX], opts.parses))
    return {
        "mix": [f"{kind}: {source}" for source, kind in MIX],
        "evals_per_run": opts.evals,
        "repeats": opts.repeats,
        "feel_evals_per_s": round(max(mixed)),
        "feel_evals_per_s_runs": [round(x) for x in mixed],
        "feel_simple_conditions_evals_per_s": round(max(conditions)),
        "feel_simple_conditions_evals_per_s_runs": [round(x) for x in conditions],
        "feel_parses_per_s": round(max(parses)),
        "feel_parses_per_s_runs": [round(x) for x in parses],
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    print(json.dumps(run([a for a in argv if a != "--json"]), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
