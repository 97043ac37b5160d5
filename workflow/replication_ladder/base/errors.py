"""Errors the user can act on: their message names the file, key, column or row."""


class LadderError(Exception):
    """A problem with the config or the data, reported without a traceback."""


class ConfigError(LadderError):
    """The config is invalid; the message names the key path."""


class DataError(LadderError):
    """A data file is invalid; the message names the file and the column or row."""


class FetchError(LadderError):
    """A source could not be fetched or failed its checksum."""


class ModelError(LadderError):
    """A model cannot be built or fitted as configured; names dataset, model and term."""


class ConvergenceError(LadderError):
    """strict_convergence is on and a fit crossed a convergence threshold."""
