"""quench's exceptions: one class per kind of error (quench::ErrorKind), with the CLI's exit code."""

from __future__ import annotations


class Error(Exception):
    """Any error quench reports; ``exit_code`` is the code the ``quench`` CLI exits with."""

    exit_code = 1


class InvalidArgumentError(Error, ValueError):
    """A caller passed something wrong (option, shape, dtype, path)."""

    exit_code = 2


class InvalidModelError(Error):
    """The model file or graph is malformed."""

    exit_code = 3


class UnsupportedError(Error):
    """Valid, but quench cannot do it (op, dtype, attribute value)."""

    exit_code = 4


class IoError(Error, OSError):
    """A file could not be read or written."""

    exit_code = 5


class ResourceError(Error, MemoryError):
    """A size limit would be exceeded (huge dims, memory)."""

    exit_code = 6


class Interrupted(Error, KeyboardInterrupt):
    """The user interrupted long work (Ctrl-C); nothing was written."""

    exit_code = 130


class InternalError(Error):
    """A broken invariant inside quench (a bug: please report it)."""

    exit_code = 70


# In the order of quench::ErrorKind (include/quench/error.h).
BY_KIND = [
    InvalidArgumentError,
    InvalidModelError,
    UnsupportedError,
    IoError,
    ResourceError,
    Interrupted,
    InternalError,
]
