"""Run by `make wheel-check` (part of `make test`) against a non-editable install of the wheel:
imports every module of the installed package, so a subpackage the wheel left out fails here
instead of on a cluster node after `ray up`. Not a pytest module (pytest imports the source)."""

import importlib
import pkgutil
import sys
from pathlib import Path

import raybee

installed_at = Path(raybee.__file__).resolve().parent
expected = Path(sys.argv[1]).resolve()
assert installed_at == expected / "raybee", (
    f"raybee was imported from {installed_at}, not from the installed wheel under {expected}"
)
failed = {}
names = [raybee.__name__]
for module in pkgutil.walk_packages(raybee.__path__, prefix="raybee."):
    names.append(module.name)
for name in names:
    try:
        importlib.import_module(name)
    except Exception as error:  # report every module that fails, not only the first
        failed[name] = f"{type(error).__name__}: {error}"
for name, error in sorted(failed.items()):
    print(f"cannot import {name} from the wheel: {error}", file=sys.stderr)
if failed:
    sys.exit(1)
print(f"wheel: {len(names)} modules import from {installed_at}")
