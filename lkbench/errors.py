"""The lkbench error hierarchy.

Every error a user can cause (bad input file, unknown name, wrong shape, …) is an
``LkbenchError``. The CLI turns these into exit code 2 and a one-paragraph message with
no traceback, so messages must name the problem *and* the fix.
"""
from __future__ import annotations


class LkbenchError(Exception):
    """Base class of all user-facing lkbench errors."""


class UnknownNameError(LkbenchError, KeyError):
    """A registry lookup for a name that is not registered."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class ConfigError(LkbenchError, ValueError):
    """An invalid configuration key, value or file."""


class CheckpointError(LkbenchError):
    """A checkpoint file that is missing, corrupt, foreign or from a newer lkbench."""


class DataError(LkbenchError, ValueError):
    """Dataset, annotation or array input that is missing or malformed."""


class RecordError(LkbenchError):
    """A result record that violates the schema, or an unreadable record store."""
