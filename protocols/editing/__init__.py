"""Attribute-editing protocol (``lkbench edit-eval``): judges, metrics, edit FID, plots.

``docs/protocols.md`` (attribute editing). The metrics are pure functions in :mod:`.metrics`; the judges are an
attribute classifier (:mod:`.judge`) and the landmark detector of
:mod:`lkbench.protocols.landmarks.detector`; :mod:`.run_edit_eval` wires them up. This family may
use both ``landmarks`` and ``generation``. To add a metric, add a function to :mod:`.metrics`, call
it from :mod:`.run_edit_eval` and add one test.
"""
