"""The roles an API key may have. Apart from shared/auth.py so that a command line can list them (create-key
--role) without importing FastAPI."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    CITY = "city"
    PARTNER = "partner"
    READER = "reader"
    # The other services' own key: reads like `reader`, may read who to write to about an item, and may act
    # on behalf of one contact (header X-Acting-Contact) — then it is that contact's partner, nothing more.
    SERVICE = "service"
