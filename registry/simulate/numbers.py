"""Personal numbers and birth dates as institutions write them: valid ЕГН and ЛНЧ, and typos."""

from __future__ import annotations

import random
from datetime import date, timedelta

from stdnum.bg import egn as stdnum_egn
from stdnum.bg import pnf as stdnum_pnf


def make_egn(birth: date, sex: str, rng: random.Random) -> str:
    """A valid ЕГН for `birth` (2000s: month + 40); the ninth digit is even for a boy."""
    month = birth.month + (40 if birth.year >= 2000 else 0)
    region = rng.randrange(0, 100)
    digit = rng.choice((0, 2, 4, 6, 8) if sex == "male" else (1, 3, 5, 7, 9))
    head = f"{birth.year % 100:02d}{month:02d}{birth.day:02d}{region:02d}{digit}"
    return head + str(stdnum_egn.calc_check_digit(head))


def make_lnch(rng: random.Random) -> str:
    """A valid ЛНЧ (it encodes no birth date)."""
    head = f"{rng.randrange(10**8, 10**9)}"
    return head + str(stdnum_pnf.calc_check_digit(head))


def valid_number(kind: str, number: str) -> bool:
    return bool((stdnum_egn if kind == "egn" else stdnum_pnf).is_valid(number))


def typo(birth: date, not_after: date, rng: random.Random) -> date:
    """A plausible keying error: day and month swapped, or a day off by one; never the same
    date, never after `not_after` (the gateway would refuse it, not just mislink it)."""
    candidates: list[date] = []
    if birth.day <= 12 and birth.day != birth.month:
        candidates.append(date(birth.year, birth.day, birth.month))
    candidates += [birth - timedelta(days=1), birth + timedelta(days=1)]
    fine = [d for d in candidates if d <= not_after]
    return rng.choice(fine) if fine else birth - timedelta(days=1)
