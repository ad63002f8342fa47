"""Model trainers, imported as ``lkbench.trainers`` (folder ``trainers/``)."""
