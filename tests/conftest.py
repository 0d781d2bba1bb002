import importlib.util
import os
import sys
from pathlib import Path

# tests/mutation_check.py, loaded once by path under one name (test directories are not
# packages and pytest runs with --import-mode=importlib): the layers' mutation checks take it
# from sys.modules, and the hook below plants a run's mutant with it.
_spec = importlib.util.spec_from_file_location(
    "raybee_tests_mutation_check", Path(__file__).resolve().with_name("mutation_check.py")
)
_mutation_check = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mutation_check)


def pytest_configure(config):
    """A mutation check's run (tests/mutation_check.py) plants its bug here, before any test
    module is imported; without RAYBEE_TEST_MUTANT this does nothing. One hook for every
    layer's tests (this conftest is loaded for any path under tests/)."""
    if os.environ.get("RAYBEE_TEST_MUTANT"):
        _mutation_check.plant_from_env(config)
