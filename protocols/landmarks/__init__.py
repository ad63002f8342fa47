"""Unsupervised landmark detection: generated pairs → detector → regression → the benchmark's error.

``docs/protocols.md`` §0–§2. To add a benchmark, register one :class:`~.benchmarks.BenchmarkSpec`
(with its dataset binding and prediction conventions) in the module that defines its dataset and
add one fixture test; ``docs/extending.md`` lists the files. ``lkbench detect`` runs
:mod:`.run_detect`; ``lkbench score`` runs :func:`.run_detect.run_score`. This family never imports
:mod:`lkbench.protocols.generation`.
"""
