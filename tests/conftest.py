import os
import sys
from pathlib import Path


def pytest_configure(config):
    """A mutation check's run (tests/mutation_check.py) plants its bug here, before any test
    module is imported; without RAYBEE_TEST_MUTANT this does nothing. One hook for every
    layer's tests (this conftest is loaded for any path under tests/)."""
    if os.environ.get("RAYBEE_TEST_MUTANT"):
        import importlib.util

        path = Path(__file__).resolve().with_name("mutation_check.py")
        spec = importlib.util.spec_from_file_location("raybee_tests_mutation_check", path)
        module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.plant_from_env(config)
