"""Errors for bad user input found after construction; their message is one sentence with the fix."""


class ConfigurationError(ValueError):
    """The data and the model (or an option and the files on disk) do not fit together."""


class DatasetNotFoundError(ConfigurationError, FileNotFoundError):
    """A dataset is not where its ``root``/``path`` option says."""
