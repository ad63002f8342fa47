"""Image-generation protocols: FID, FID_interp and CPD of a keypoint generator.

``docs/protocols.md`` §3. A protocol here is a pure metric module (``fid.py``, ``cpd.py``) plus
its runner ``run_<command>.py`` (load the generator, compute, append a record). To add one, write
both, register the command in :mod:`lkbench.cli`, and add one test; model operations are reached
through :mod:`lkbench.models` only. This family never imports :mod:`lkbench.protocols.landmarks`.
"""
