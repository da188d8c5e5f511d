"""The small error hierarchy of k8s-harden, mapped to exit codes.

Every error the user can cause (bad input, bad profile, a conflict the profile says must
fail, bad usage) is a :class:`HardenError`: the CLI prints its message on stderr, writes
nothing to stdout and exits with :attr:`HardenError.exit_code`. Anything else is a bug.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHANGES = 1  # --check found changes
EXIT_FINDINGS = 1  # audit found findings
EXIT_ERROR = 2  # bad input, bad profile, usage, conflict with rule `fail`


class HardenError(Exception):
    """An error caused by the input, the profile or the options — never a traceback."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(HardenError):
    """A manifest stream that cannot be read: invalid YAML, bad encoding, alias bomb, ..."""

    def __init__(self, message: str, *, source: str = "<stdin>", document: int | None = None,
                 line: int | None = None):
        where = [source]
        if document is not None:
            where.append(f"document {document}")
        if line is not None:
            where.append(f"line {line}")
        super().__init__(f"{', '.join(where)}: {message}")
        self.source, self.document, self.line = source, document, line


class ProfileError(HardenError):
    """A profile that is not valid: unknown key, bad value, extends cycle, missing file."""

    def __init__(self, message: str, *, source: str = "", key_path: str = ""):
        prefix = source or "profile"
        if key_path:
            prefix += f": {key_path}"
        super().__init__(f"{prefix}: {message}")
        self.source, self.key_path = source, key_path


class ConflictError(HardenError):
    """A manifest setting conflicts with a control whose rule is `fail`."""


class UsageError(HardenError):
    """Options that do not fit together (e.g. `--emit psp` for Kubernetes >= 1.25)."""
