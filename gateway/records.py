"""Record state (README §5): which event each child of a snapshot gets, given what is live.

Pure: the store reads the record's live children, `plan` decides, the store writes the result
back in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.facts import Event


@dataclass(frozen=True, slots=True)
class LiveChild:
    child_key: str
    case_key: str


@dataclass(frozen=True, slots=True)
class Planned:
    """One notification to send. `index` points into the snapshot's in-scope children (None for
    a cancel); `child_key` is the key the record state keeps from now on."""

    event: Event
    child_key: str
    case_key: str
    index: int | None
    key_changed: bool = False


@dataclass(slots=True)
class Plan:
    notifications: list[Planned] = field(default_factory=list)
    # The new live set of the record: child key -> case key.
    live_after: dict[str, str] = field(default_factory=dict)
    cancel_of_unknown: bool = False


def plan(
    *,
    live: list[LiveChild],
    snapshot: list[str],
    withdraw: bool,
    new_case_key: dict[str, str],
) -> Plan:
    """`snapshot` is the child keys of the in-scope children, in document order;
    `new_case_key` gives the case key a child gets when it first appears."""
    out = Plan()
    if withdraw:
        out.notifications = [Planned("cancel", c.child_key, c.case_key, None) for c in live]
        out.cancel_of_unknown = not live
        return out
    live_by_key = {c.child_key: c for c in live}
    unmatched_new = [i for i, k in enumerate(snapshot) if k not in live_by_key]
    snapshot_keys = set(snapshot)
    unmatched_live = [c for c in live if c.child_key not in snapshot_keys]
    renamed: dict[int, LiveChild] = {}
    if len(unmatched_new) == 1 and len(unmatched_live) == 1:
        renamed[unmatched_new[0]] = unmatched_live[0]
        unmatched_live = []
    for i, key in enumerate(snapshot):
        if key in live_by_key:
            case = live_by_key[key].case_key
            out.notifications.append(Planned("update", key, case, i))
        elif i in renamed:
            case = renamed[i].case_key
            out.notifications.append(Planned("update", key, case, i, key_changed=True))
        else:
            case = new_case_key[key]
            out.notifications.append(Planned("new", key, case, i))
        out.live_after[key] = case
    out.notifications.extend(
        Planned("cancel", c.child_key, c.case_key, None) for c in unmatched_live
    )
    return out
