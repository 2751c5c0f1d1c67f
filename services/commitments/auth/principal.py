"""Who is calling (shared/auth.py, the same in every service), and the system itself as a caller."""

from shared.auth import Principal, Role

__all__ = ["SYSTEM", "Principal", "Role"]

SYSTEM = Principal(role=Role.ADMIN)
