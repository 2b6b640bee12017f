"""The gateway's exception hierarchy: grouped by how the caller must react, rendered by transports.

Every transport (SOAP 1.1, REST problem+json, FHIR OperationOutcome) renders these classes and
nothing else, so an error is formatted in exactly one place per surface. Messages name a field and
a rule, never a personal value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

# README §9: the one list of problem codes shared by every transport.
PROBLEM_CODES = frozenset(
    {
        "required",
        "format",
        "closed-list",
        "check-digit",
        "date",
        "conflict",
        "stale-version",
        "not-json",
        "too-large",
        "media-type",
        "forbidden",
        "receipt-not-found",
        "unavailable",
    }
)


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem; `path` in the transport's syntax (XPath-like, JSON pointer, column)."""

    path: str
    code: str
    message: str

    def __post_init__(self) -> None:
        if self.code not in PROBLEM_CODES:
            raise ValueError(f"unknown problem code {self.code!r}")


class GatewayError(Exception):
    """Root of every error the gateway reports to a caller."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "unavailable"
    title: ClassVar[str] = "Gateway error"
    # True when the caller should send the same message again later.
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems: list[Problem] = problems or []

    def __reduce__(self) -> tuple[object, ...]:
        # Errors come back from the store's writer process pickled; subclasses' constructors
        # take other arguments than `args`, so rebuild without calling them.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(
    cls: type[GatewayError], args: tuple[object, ...], state: dict[str, object]
) -> GatewayError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


# -- the caller's fault: 4xx, never queued ------------------------------------------------------


class ClientError(GatewayError):
    status = 400


class ContractViolation(ClientError):
    """The message breaks its contract; `problems` lists every problem found."""

    status = 422
    code = "format"
    title = "The message breaks the institution's contract"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the message", problems)


class NotParseable(ClientError):
    """Not JSON, not XML, or not decodable: nothing of the message could be read."""

    status = 400
    code = "not-json"
    title = "The body cannot be parsed"

    def __init__(self, message: str, code: str = "not-json", path: str = "") -> None:
        super().__init__(message, [Problem(path, code, message)])


class StaleVersion(ClientError):
    status = 409
    code = "stale-version"
    title = "A later or equal version of this record was already accepted"


class TooLarge(ClientError):
    status = 413
    code = "too-large"
    title = "The body is larger than the contract allows"


class UnsupportedMediaType(ClientError):
    status = 415
    code = "media-type"
    title = "Unsupported media type"


class Forbidden(ClientError):
    status = 403
    code = "forbidden"
    title = "This certificate may not call this endpoint"


class Unauthenticated(ClientError):
    status = 401
    code = "forbidden"
    title = "A client certificate of a known institution is required"


class ReceiptNotFound(ClientError):
    status = 404
    code = "receipt-not-found"
    title = "No such receipt"


# -- ours, for now: the caller retries -----------------------------------------------------------


class Unavailable(GatewayError):
    """Storage or another dependency cannot take the message now; nothing was acknowledged."""

    status = 503
    code = "unavailable"
    title = "The gateway cannot take the message now"
    retryable = True
    retry_after_seconds = 30


# -- not the caller's concern ------------------------------------------------------------------


class ConfigurationError(Exception):
    """The gateway refuses to start: settings, keys or mappings are wrong."""


class DeliveryError(Exception):
    """Forwarding to the register failed; `fatal` says whether retrying can help."""

    def __init__(self, reason: str, *, fatal: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal
