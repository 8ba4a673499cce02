"""Build the one C extension (hull.linux._sys); everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("hull.linux._sys", ["hull/linux/_sys.c"], extra_compile_args=["-O2", "-Wall"]),
    ]
)
