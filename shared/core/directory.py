"""Who an email address is in the ERP: a user, a contact (and its company) or a facility (R15, R16).

Built by the engine from ERP look-ups, passed into the pure mapping.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shared.core.activities import Company, Contact, ErpUser, Facility


class Directory(BaseModel):
    model_config = ConfigDict(frozen=True)

    users: dict[str, ErpUser] = {}
    contacts: dict[str, Contact] = {}
    companies: dict[str, Company] = {}  # by id
    facilities: dict[str, Facility] = {}  # by room mailbox address

    @classmethod
    def build(
        cls,
        *,
        users: list[ErpUser] | tuple[ErpUser, ...] = (),
        contacts: list[Contact] | tuple[Contact, ...] = (),
        companies: list[Company] | tuple[Company, ...] = (),
        facilities: list[Facility] | tuple[Facility, ...] = (),
    ) -> Directory:
        return cls(
            users={u.email.lower(): u for u in users if u.email},
            contacts={c.email.lower(): c for c in contacts if c.email},
            companies={c.id: c for c in companies},
            facilities={f.room_mailbox.lower(): f for f in facilities if f.room_mailbox},
        )

    def outside(self) -> frozenset[str]:
        """R10: the addresses no synced person's mailbox can be: the ERP's contacts (customers) and rooms, unless
        an ERP user has the same address."""
        return frozenset((self.contacts.keys() | self.facilities.keys()) - self.users.keys())
