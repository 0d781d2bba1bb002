"""Packages are found, not listed: the repository root is the package `raybee` (see
pyproject.toml), so every folder with an __init__.py below it becomes `raybee.<folder>`.
A hand-written list once missed five subpackages and broke non-editable installs."""

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

NOT_SHIPPED = ["tests", "tests.*", "build", "build.*", "data", "data.*"]


class BuildPy(build_py):
    """The root folder is the package, so this file would ship as `raybee.setup`: leave it out."""

    def find_package_modules(self, package, package_dir):
        modules = super().find_package_modules(package, package_dir)
        return [m for m in modules if (m[0], m[1]) != ("raybee", "setup")]


setup(
    packages=["raybee", *(f"raybee.{name}" for name in find_packages(".", exclude=NOT_SHIPPED))],
    package_dir={"raybee": "."},
    cmdclass={"build_py": BuildPy},
)
