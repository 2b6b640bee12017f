"""The child's identity (README §4): personal-number checks and keyed pseudonyms, once for all.

Adapters call `resolve_child` with the raw fields; what comes back holds pseudonyms only, so a
personal number never travels past the adapter step. Problems and warnings name the field and
the rule, never the value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import date

from stdnum.bg import egn as stdnum_egn
from stdnum.bg import pnf as stdnum_lnch
from stdnum.exceptions import InvalidChecksum, ValidationError

from gateway.errors import Problem
from gateway.facts import Child, DataWarning, Pseudonym, Sex

_TEN_DIGITS = re.compile(r"^[0-9]{10}$")


@dataclass(frozen=True, slots=True)
class LinkageKey:
    key_id: str
    secret: bytes


@dataclass(frozen=True, slots=True)
class Keyring:
    """Linkage keys (the first is current; a second one means a rotation is under way) and the
    gateway's internal key, which is never rotated and never leaves the gateway."""

    linkage: tuple[LinkageKey, ...]
    internal: bytes

    def __post_init__(self) -> None:
        if not 1 <= len(self.linkage) <= 2:
            raise ValueError("one linkage key, or two while rotating")

    def pseudonyms(self, kind: str, digits: str) -> tuple[Pseudonym, ...]:
        message = f"{kind}:{digits}".encode()
        return tuple(
            Pseudonym(k.key_id, hmac.new(k.secret, message, hashlib.sha256).hexdigest())
            for k in self.linkage
        )

    def internal_id(self, kind: str, digits: str) -> str:
        return hmac.new(self.internal, f"{kind}:{digits}".encode(), hashlib.sha256).hexdigest()

    def internal_token(self, text: str) -> str:
        """A keyed digest of a non-personal string, for internal keys (child keys, record keys)."""
        return hmac.new(self.internal, text.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Located:
    """A raw field value with its path in the transport's syntax."""

    value: str
    path: str


def check_egn(value: Located) -> Problem | None:
    if not _TEN_DIGITS.match(value.value):
        return Problem(value.path, "format", "ЕГН must be exactly 10 digits")
    try:
        stdnum_egn.validate(value.value)
    except InvalidChecksum:
        return Problem(value.path, "check-digit", "ЕГН check digit is wrong")
    except ValidationError:
        return Problem(value.path, "date", "ЕГН encodes an impossible birth date")
    return None


def check_lnch(value: Located) -> Problem | None:
    if not _TEN_DIGITS.match(value.value):
        return Problem(value.path, "format", "ЛНЧ must be exactly 10 digits")
    try:
        stdnum_lnch.validate(value.value)
    except ValidationError:
        return Problem(value.path, "check-digit", "ЛНЧ check digit is wrong")
    return None


def sex_from_egn(digits: str) -> Sex:
    return "male" if int(digits[8]) % 2 == 0 else "female"


@dataclass(slots=True)
class ChildIdentity:
    """The resolved identity: pseudonyms, the internal id, and the birth date and sex that win."""

    pseudonyms: tuple[Pseudonym, ...] = ()
    internal_id: str | None = None
    birth_date: date | None = None
    sex: Sex = "unknown"
    problems: list[Problem] = field(default_factory=list)
    warnings: list[DataWarning] = field(default_factory=list)

    def child(
        self,
        path: str,
        *,
        birth_date: str | None = None,
        stated_outcome: str | None = None,
        stated_outcome_path: str | None = None,
    ) -> Child:
        """The victim as the core takes it: pseudonyms only, and the birth date that won (or
        `birth_date`, e.g. a partial date carried as received)."""
        won = self.birth_date.isoformat() if self.birth_date else None
        return Child(
            path=path,
            sex=self.sex,
            pseudonyms=self.pseudonyms,
            internal_id=self.internal_id,
            birth_date=birth_date or won,
            stated_outcome=stated_outcome,
            stated_outcome_path=stated_outcome_path,
        )


def resolve_child(
    *,
    keyring: Keyring,
    incident_date: date | None,
    sex: Sex,
    sex_path: str,
    egn: Located | None = None,
    lnch: Located | None = None,
    birth_date: date | None = None,
    birth_date_path: str = "",
    birth_date_required: bool = True,
    child_index: int | None = None,
    conflict_path: str = "",
) -> ChildIdentity:
    """Apply README §4 to one child. `birth_date` is already parsed (the adapter reports its own
    format errors); `birth_date_required` is False for contracts with no birth-date field."""
    out = ChildIdentity(sex=sex, birth_date=birth_date)
    if egn is not None and lnch is not None:
        out.problems.append(
            Problem(conflict_path or lnch.path, "conflict", "give at most one of ЕГН and ЛНЧ")
        )
        return out
    if egn is not None:
        problem = check_egn(egn)
        if problem:
            out.problems.append(problem)
            return out
        digits = egn.value
        out.pseudonyms = keyring.pseudonyms("EGN", digits)
        out.internal_id = keyring.internal_id("EGN", digits)
        derived = stdnum_egn.get_birth_date(digits)
        if birth_date is not None and birth_date != derived:
            out.warnings.append(DataWarning("birthdate-mismatch", birth_date_path, child_index))
        out.birth_date = derived
        derived_sex = sex_from_egn(digits)
        if sex in ("male", "female") and sex != derived_sex:
            out.warnings.append(DataWarning("sex-mismatch", sex_path, child_index))
        out.sex = derived_sex
    elif lnch is not None:
        problem = check_lnch(lnch)
        if problem:
            out.problems.append(problem)
            return out
        out.pseudonyms = keyring.pseudonyms("LNCH", lnch.value)
        out.internal_id = keyring.internal_id("LNCH", lnch.value)
    if out.birth_date is None and birth_date_required:
        out.problems.append(
            Problem(birth_date_path, "required", "a birth date is required unless an ЕГН is given")
        )
    if out.birth_date is not None and incident_date is not None and out.birth_date > incident_date:
        out.problems.append(
            Problem(
                egn.path if egn is not None else birth_date_path,
                "date",
                "the birth date is after the incident date",
            )
        )
    return out
