"""Unsupervised landmark detection: generated pairs → detector → regression → the benchmark's error.

``docs/protocols.md`` §0–§2. To add a benchmark, call
:func:`~.benchmarks.register_benchmark` once, in the module that defines its dataset, with a
:class:`~.benchmarks.BenchmarkSpec` that carries everything else (protocol parameters, dataset
binding, report label and family, published numbers; see :mod:`.benchmarks`), and add one
fixture test (``tests/protocols/landmarks/test_outside_benchmark.py`` shows both). Modules:
:mod:`.benchmarks` (the registry), :mod:`.regressions`, :mod:`.errors`, :mod:`.score` (the
numerics), :mod:`.results`, :mod:`.predictions` (files and conventions), :mod:`.run_detect`
(``lkbench detect``, and ``lkbench score`` in :func:`.run_detect.run_score`). This family never
imports :mod:`lkbench.protocols.generation`, :mod:`lkbench.protocols.editing` or
``lkbench.trainers``.
"""
