"""Build and release scripts, run as `python -m hack.<name>`: they import neither tests nor
benchmarks (pyproject.toml, [tool.importlinter])."""
