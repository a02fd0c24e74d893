"""SCIM discovery endpoints: ServiceProviderConfig, Schemas, ResourceTypes (RFC 7644 §4)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.registry.api.context import registry_context
from services.registry.api.scim_errors import ScimError, scim_response
from services.registry.api.scim_http import answer, base_url
from services.registry.api.scim_schema import (
    list_response,
    schemas,
    service_provider_config,
    user_resource_type,
)
from shared.http.auth import Principal

router = APIRouter()


def _unfiltered(request: Request) -> None:
    if "filter" in request.query_params:
        # RFC 7644 §4: a filter here must not look as if it had been applied.
        raise ScimError(403, "discovery endpoints cannot be filtered")


@router.get("/ServiceProviderConfig", summary="SCIM capabilities")
async def get_service_provider_config(request: Request) -> Response:
    async def work(_: Principal) -> Response:
        _unfiltered(request)
        return scim_response(service_provider_config(base_url(request)))

    return await answer(request, work)


@router.get("/Schemas", summary="SCIM schemas")
async def list_schemas(request: Request) -> Response:
    async def work(_: Principal) -> Response:
        _unfiltered(request)
        found = schemas((await registry_context(request)).registry.types, base_url(request))
        return scim_response(list_response(found, len(found)))

    return await answer(request, work)


@router.get("/Schemas/{schema_id}", summary="A SCIM schema")
async def get_schema(request: Request, schema_id: str) -> Response:
    async def work(_: Principal) -> Response:
        _unfiltered(request)
        for schema in schemas((await registry_context(request)).registry.types, base_url(request)):
            if schema["id"] == schema_id:
                return scim_response(schema)
        raise ScimError(404, f"no schema {schema_id!r}")

    return await answer(request, work)


@router.get("/ResourceTypes", summary="SCIM resource types")
async def list_resource_types(request: Request) -> Response:
    async def work(_: Principal) -> Response:
        _unfiltered(request)
        return scim_response(list_response([user_resource_type(base_url(request))], 1))

    return await answer(request, work)


@router.get("/ResourceTypes/{type_id}", summary="A SCIM resource type")
async def get_resource_type(request: Request, type_id: str) -> Response:
    async def work(_: Principal) -> Response:
        _unfiltered(request)
        if type_id != "User":
            raise ScimError(404, f"no resource type {type_id!r}: only User")
        return scim_response(user_resource_type(base_url(request)))

    return await answer(request, work)
