"""What the stores' error translation shares: a context manager that turns a database
driver's exception into a jobsched :class:`core.errors.StorageError`.

Each backend says which exceptions are its own and what each becomes
(``sqlite.errors.translate_errors``, ``postgres.errors.translate_pg_errors``).
"""

from __future__ import annotations

from types import TracebackType

from jobsched.core.errors import JobschedError, StorageError


class ErrorTranslator:
    """A context manager that re-raises a database error as a StorageError.

    jobsched's own errors pass through unchanged; so do exceptions that are not about
    the database (a bug in the caller's data stays a TypeError). Subclasses say which
    exceptions are theirs and what each becomes (``translate``).
    """

    __slots__ = ()

    def translate(self, exc: BaseException) -> StorageError | None:
        raise NotImplementedError

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or isinstance(exc, JobschedError):
            return
        error = self.translate(exc)
        if error is not None:
            raise error from exc
