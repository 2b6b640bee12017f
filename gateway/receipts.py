"""What the gateway answers an institution: a receipt, and who is calling."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from gateway.facts import DataWarning

ReceiptStatus = Literal["accepted", "duplicate", "out-of-scope"]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated institution: the certificate it used, mapped to exactly one slug."""

    institution: str
    fingerprint: str
    subject: str = ""
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Receipt:
    receipt_id: str
    institution: str
    received_at: datetime
    status: ReceiptStatus
    notification_ids: tuple[str, ...] = ()
    warnings: tuple[DataWarning, ...] = field(default_factory=tuple)

    @property
    def notification_count(self) -> int:
        return len(self.notification_ids)

    def as_duplicate(self) -> Receipt:
        return replace(self, status="duplicate")

    def to_json(self) -> dict[str, object]:
        """README §1: `{receiptId, institution, receivedAt, status, notificationIds, warnings}`."""
        return {
            "receiptId": self.receipt_id,
            "institution": self.institution,
            "receivedAt": self.received_at.isoformat(),
            "status": self.status,
            "notificationIds": list(self.notification_ids),
            "warnings": [{"code": w.code, "path": w.path} for w in self.warnings],
        }
