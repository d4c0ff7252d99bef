"""What one user's run did, for logs, the demo summary and the admin."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from shared.safe_log import outside


@dataclass
class RunReport:
    user_id: str
    status: str = "ok"  # ok | busy | unsyncable | halted | failed | lease-lost | continues
    detail: str = ""
    done: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)

    def count(self, what: str) -> None:
        self.done[what] += 1

    def summary(self) -> str:
        parts = [f"{k}={v}" for k, v in sorted(self.done.items())]
        return (
            f"user {outside(self.user_id)}: {self.status}"
            + (f" ({self.detail})" if self.detail else "")
            + (" " + ", ".join(parts) if parts else "")
        )
