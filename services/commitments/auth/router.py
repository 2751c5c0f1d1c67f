from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from services.commitments.auth import service
from services.commitments.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, Introspection
from services.commitments.auth.service import PrincipalCache
from services.commitments.dependencies import AdminDep, ClockDep, PrincipalDep, SessionDep

router = APIRouter(prefix="/v1", tags=["API keys"])


def get_principal_cache(request: Request) -> PrincipalCache:
    return request.app.state.principal_cache  # type: ignore[no-any-return]  # Starlette's app.state is untyped


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(
    body: ApiKeyCreate, session: SessionDep, clock: ClockDep, admin: AdminDep
) -> ApiKeyCreated:
    """Create an API key (admin). The secret is in this response only."""
    key, secret = await service.create_key(
        session, admin, clock, name=body.name, role=body.role, partner_id=body.partner_id
    )
    return ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(key).model_dump(), "secret": secret})


@router.get("/api-keys", response_model=list[ApiKeyRead])
async def list_api_keys(session: SessionDep, admin: AdminDep) -> list[ApiKeyRead]:
    """List keys (admin), without their secrets."""
    return [ApiKeyRead.model_validate(key) for key in await service.list_keys(session)]


@router.post("/api-keys/{key_id}/revoke", response_model=ApiKeyRead)
async def revoke_api_key(
    key_id: uuid.UUID, request: Request, session: SessionDep, clock: ClockDep, admin: AdminDep
) -> ApiKeyRead:
    """Revoke a key (admin): refused at once here, within seconds by the other services."""
    key = await service.revoke_key(session, get_principal_cache(request), admin, clock, key_id)
    return ApiKeyRead.model_validate(key)


@router.get("/auth/whoami", response_model=Introspection)
async def whoami(principal: PrincipalDep) -> Introspection:
    """What the presented key is: the other services call this to verify a key they do not know yet."""
    return Introspection(
        active=True,
        key_id=principal.key_id,
        role=principal.role,
        partner_id=principal.partner_id,
        visible_partner_ids=sorted(principal.visible_partner_ids),
    )
