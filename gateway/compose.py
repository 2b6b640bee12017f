"""From a translated record to canonical notifications: the methodology applied once, for all.

`compose` does what does not depend on stored state (who is a child, forms, outcome, setting);
`Composed.finish` runs inside the store's transaction with the record's live children and decides
new / update / cancel, the warnings of each notification, and renders the FHIR messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway import methodology, profile, records
from gateway.adapter import Adapter
from gateway.facts import Child, DataWarning, Notification, Provenance, SourceRecord
from gateway.identity import Keyring
from gateway.receipts import ReceiptStatus
from gateway.store.state import RecordState


@dataclass(slots=True)
class Result:
    status: ReceiptStatus
    notifications: list[Notification]
    bundles: list[dict[str, Any]]
    warnings: list[DataWarning]
    live_after: dict[str, str]


@dataclass(slots=True)
class Composed:
    slug: str
    record: SourceRecord
    provenance: Provenance
    # In-scope children: (index in record.children, child, child key).
    children: list[tuple[int, Child, str]]
    forms: tuple[str, ...]
    relationships: tuple[str, ...]
    setting: str
    setting_conflict: bool

    def finish(self, current: RecordState, content_keyed: bool = False) -> Result:
        """`content_keyed`: the message id is a digest of the content (schools), which may come
        back after another version; the notification ids then also name the version it
        follows, so that each stays unique while a replay still gives the same ids."""
        r = self.record
        message_key = (
            f"{r.message_id}|after:{current.last_receipt_id or ''}"
            if content_keyed
            else r.message_id
        )
        withdraw = r.source_event == "withdraw"
        keys = [k for _, _, k in self.children]
        plan = records.plan(
            live=current.live,
            snapshot=[] if withdraw else keys,
            withdraw=withdraw,
            new_case_key={k: methodology.case_key(self.slug, r.record_key, k) for k in keys},
        )
        record_warnings = [w for w in r.warnings if w.child is None]
        mismatch = (r.source_event == "first" and current.seen) or (
            r.source_event == "later" and not current.seen
        )
        if mismatch:
            record_warnings.append(DataWarning("source-event-mismatch", r.source_event_path))
        if plan.cancel_of_unknown:
            record_warnings.append(DataWarning("cancel-of-unknown-record", r.source_event_path))
        sends_facts = any(p.event != "cancel" for p in plan.notifications)
        if self.setting_conflict and sends_facts:
            record_warnings.append(DataWarning("conflicting-implied-settings", r.setting_path))

        notifications: list[Notification] = []
        all_warnings = list(record_warnings)
        for planned in plan.notifications:
            if planned.index is None:
                notifications.append(self._cancel(planned, record_warnings, message_key))
                continue
            index, child, _ = self.children[planned.index]
            own = [w for w in r.warnings if w.child == index]
            outcome, conflict = methodology.outcome(child.stated_outcome, r.implied_outcomes)
            if conflict:
                own.append(DataWarning("outcome-conflict", child.stated_outcome_path or child.path))
            if planned.key_changed:
                own.append(DataWarning("child-key-changed", child.path))
            all_warnings.extend(own)
            notifications.append(
                Notification(
                    notification_id=methodology.notification_id(
                        self.slug, message_key, planned.child_key
                    ),
                    case_key=planned.case_key,
                    event=planned.event,
                    institution=self.slug,
                    incident_reference=f"{self.slug}:{r.incident_reference or r.record_key}",
                    provenance=self.provenance,
                    warnings=_unique(record_warnings + own),
                    incident_date=r.incident_date,
                    child=child,
                    place=r.place,
                    forms=self.forms,
                    attempted=r.attempted,
                    outcome=outcome,
                    relationships=self.relationships,
                    setting=self.setting,
                    case_stage=r.case_stage,
                    references=tuple(sorted(r.references.items())),
                    source_codes=r.source_codes,
                    event_date=r.event_date,
                )
            )
        # Warnings the adapter raised about children who were not notified still reach the
        # sender once (the answer lists every warning of the message).
        all_warnings.extend(w for w in r.warnings if w.child is not None)
        status: ReceiptStatus = "accepted" if (withdraw or notifications) else "out-of-scope"
        return Result(
            status=status,
            notifications=notifications,
            bundles=[profile.render(n, self.provenance.received_at) for n in notifications],
            warnings=list(_unique(all_warnings)),
            live_after=plan.live_after,
        )

    def _cancel(
        self, planned: records.Planned, warnings: list[DataWarning], message_key: str
    ) -> Notification:
        r = self.record
        return Notification(
            notification_id=methodology.notification_id(self.slug, message_key, planned.child_key),
            case_key=planned.case_key,
            event="cancel",
            institution=self.slug,
            incident_reference=f"{self.slug}:{r.incident_reference or r.record_key}",
            provenance=self.provenance,
            warnings=_unique(warnings),
        )


def _unique(warnings: list[DataWarning]) -> tuple[DataWarning, ...]:
    """Each warning once per message (by code and path), keeping the first one's child."""
    seen: dict[tuple[str, str], DataWarning] = {}
    for w in warnings:
        seen.setdefault((w.code, w.path), DataWarning(w.code, w.path))
    return tuple(seen.values())


def compose(
    adapter: Adapter,
    record: SourceRecord,
    keyring: Keyring,
    mapping_version: str,
    raw_sha256: str,
    received_at: datetime,
) -> Composed:
    keys = methodology.child_keys(record.children, adapter.child_key)
    children = (
        [
            (i, c, k)
            for i, (c, k) in enumerate(zip(record.children, keys, strict=True))
            if methodology.is_child(c, record.incident_date)
        ]
        if record.in_scope
        else []
    )
    if adapter.child_key == "person":
        # Child keys hold internal pseudonyms; record state keeps a keyed digest of them only.
        children = [(i, c, keyring.internal_token(k)) for i, c, k in children]
    rels = methodology.relationships(record.relationships)
    setting, conflict = methodology.setting(record.explicit_setting, record.implied_settings, rels)
    return Composed(
        slug=adapter.slug,
        record=record,
        provenance=Provenance(
            adapter=adapter.slug,
            adapter_version=adapter.version,
            mapping_version=mapping_version,
            raw_sha256=raw_sha256,
            received_at=received_at,
        ),
        children=children,
        forms=methodology.forms(record.forms),
        relationships=rels,
        setting=setting,
        setting_conflict=conflict,
    )
