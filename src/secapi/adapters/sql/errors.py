"""Translating database driver failures into domain errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from secapi.domain.errors import Conflict, DependencyUnavailable

UNAVAILABLE_SQLSTATE_CLASSES = {
    "08": "the connection to the database failed",
    "53": "the database is out of resources (connections, memory or disk)",
    "57": "the database is starting up, shutting down or cancelled the statement",
}
"""SQLSTATE classes that mean "not available now", whatever the driver calls them: connection
exception (08: no connection, connection lost), insufficient resources (53: too many connections),
operator intervention (57: starting up after a crash, admin or crash shutdown, statement timeout)."""


@asynccontextmanager
async def translate_db_errors(conflict_message: str | None = None) -> AsyncIterator[None]:
    """Raise `DependencyUnavailable` for connection trouble and `Conflict` for unique violations."""
    try:
        yield
    except IntegrityError as exc:
        if conflict_message is None:
            raise
        raise Conflict(conflict_message) from exc
    except (OperationalError, PoolTimeout, OSError, TimeoutError) as exc:
        raise DependencyUnavailable(f"the database is unavailable: {type(exc).__name__}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise DependencyUnavailable("the database connection was lost") from exc
        _raise_if_unavailable(exc)
        raise
    except Exception as exc:  # a driver error SQLAlchemy did not wrap (asyncpg's, while connecting)
        _raise_if_unavailable(exc)
        raise


def _raise_if_unavailable(exc: Exception) -> None:
    reason = UNAVAILABLE_SQLSTATE_CLASSES.get((sqlstate(exc) or "")[:2])
    if reason is not None:
        driver_error = list(_chain(exc))[-1]  # `CannotConnectNowError` says more than the wrapper `DBAPIError`
        raise DependencyUnavailable(f"{reason}: {type(driver_error).__name__}") from exc


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE code of a driver error, read through SQLAlchemy's wrapper and the dialect's adapter."""
    for error in _chain(exc):
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(code, str) and len(code) == 5:
            return code
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it wraps: a DBAPIError's `orig`, else the `__cause__`, down to the driver's own error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = current.orig if isinstance(current, DBAPIError) else None
        current = orig if isinstance(orig, BaseException) else current.__cause__


_QUOTES_VALUES = frozenset({"22"})
"""SQLSTATE classes whose messages quote the offending value (data exception: `invalid input syntax ...: "x"`)."""
_NAMED_FIELDS = ("table_name", "column_name", "constraint_name")


def redact_driver_values(context: ExceptionContext) -> None:
    """A `handle_error` hook: the error's text keeps what failed and drops every value it quotes.

    asyncpg adds PostgreSQL's DETAIL (`Key (key_hash)=(...) already exists`, `Failing row contains
    (...)`) to its message and SQLAlchemy copies that text into its own; with `hide_parameters` this
    keeps secrets and results out of every log line that prints the exception, wherever it is logged.
    """
    original = context.original_exception
    text = redact_driver_error(original)
    wrapper = context.sqlalchemy_exception
    if text is not None and wrapper is not None:
        driver = list(_chain(original))[-1]
        wrapper.args = (f"({type(original).__module__}.{type(original).__name__}) {type(driver).__name__}: {text}",)


def redact_driver_error(exc: BaseException) -> str | None:
    """Drop the values a driver error (and each error wrapping it) quotes; its value-free text, or None
    when it is not an error that could quote one. For statements sent through the driver itself (COPY,
    single-statement writes), which SQLAlchemy's `handle_error` hook never sees."""
    errors = list(_chain(exc))
    driver = errors[-1]
    if not hasattr(driver, "sqlstate") and not isinstance(driver, ValueError):
        return None  # not a PostgreSQL error nor asyncpg's check of an argument: no value is quoted
    text = _value_free_text(driver)
    for error in errors:
        for attribute in ("detail", "hint"):
            if getattr(error, attribute, None) is not None:
                setattr(error, attribute, None)
        error.args = (text,)
    return text


@asynccontextmanager
async def driver_values_redacted() -> AsyncIterator[None]:
    """Around a statement sent through the driver itself: its errors leave without the values they quote."""
    try:
        yield
    except Exception as exc:
        redact_driver_error(exc)
        raise


def _value_free_text(driver: BaseException) -> str:
    code = sqlstate(driver)
    message = driver.args[0] if driver.args and isinstance(driver.args[0], str) else ""
    if code is None or code[:2] in _QUOTES_VALUES:
        message = "the message is withheld: it may quote a value"
    names = [
        f"{name.removesuffix('_name')} {value}" for name in _NAMED_FIELDS if (value := getattr(driver, name, None))
    ]
    where = f" ({', '.join(names)})" if names else ""
    return f"{message}{where}" + (f" [SQLSTATE {code}]" if code else "")
