"""Bad input: one line and delve's exit codes (core/error.h)."""


class TwinError(Exception):
    """A bad input (file, config, value): the scripts print it on one line and exit with `code`,
    delve's exit codes (core/error.h)."""
    code = 1


class ConfigError(TwinError):
    code = 3


class DataError(TwinError):
    code = 4


class CheckpointError(TwinError):
    code = 5
