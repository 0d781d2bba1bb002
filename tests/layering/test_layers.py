"""The layering in DESIGN.md, checked on the source: raft/ imports the standard library alone,
and only actors/ and workloads/ import ray (import-linter checks the same through `make lint`;
this test keeps it true for anyone who runs pytest alone)."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_top_levels(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_raft_imports_the_standard_library_alone():
    offenders = {
        path: sorted(
            name for name in names if name not in sys.stdlib_module_names and name != "raybee"
        )
        for path, names in imported_top_levels("raft").items()
    }
    offenders = {path: names for path, names in offenders.items() if names}
    assert offenders == {}
    # ... and nothing of raybee outside raft itself.
    for path in (ROOT / "raft").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("from raybee.", "import raybee.")):
                assert stripped.startswith(("from raybee.raft", "import raybee.raft")), (path, line)


def test_only_actors_and_workloads_import_ray():
    for package in ("raft", "journal", "state", "partitions"):
        for path, names in imported_top_levels(package).items():
            assert "ray" not in names, f"{path} imports ray"
