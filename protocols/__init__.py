"""Evaluation protocols, imported as ``lkbench.protocols`` (folder ``protocols/``)."""
