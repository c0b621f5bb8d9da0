"""The errors a user can cause; the CLI turns each into a one-line message and a non-zero exit."""

from __future__ import annotations


class PlatformError(Exception):
    """Base of every error whose message is meant for the user as it is."""


class DataValidationError(PlatformError):
    """Raw or derived data breaks a contract rule; the message names table, column and rule."""


class InputError(PlatformError):
    """A command was given something it cannot use (a bad date, an unknown name, a bad file)."""


class NoChampionError(InputError):
    """A model has no ``champion`` version where one is needed; the message says how to get one."""
