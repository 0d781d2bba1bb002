"""`workloads/bench_feel.py` runs (tiny sizes) and reports every figure with its runs."""

from raybee.workloads import bench_feel


def test_bench_feel_reports_best_of_runs():
    figures = bench_feel.run(["--evals", "300", "--parses", "30", "--repeats", "2"])
    assert len(figures["mix"]) == len(bench_feel.MIX)
    for name in ("feel_evals_per_s", "feel_simple_conditions_evals_per_s", "feel_parses_per_s"):
        runs = figures[name + "_runs"]
        assert len(runs) == 2 and all(run > 0 for run in runs)
        assert figures[name] == max(runs)
