"""Credentials for Graph: app-only, client secret or certificate, against the configured authority.

MSAL (inside azure-identity) accepts only https authorities, so a loopback authority (the local Graph
emulator) is served by ``LoopbackClientSecretCredential``, which speaks the same OAuth 2.0
client-credentials grant over plain HTTP and refuses any non-loopback host.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import CertificateCredential, ClientSecretCredential

from shared.errors import GraphError
from shared.settings import Settings

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


class LoopbackClientSecretCredential(AsyncTokenCredential):
    """Client-credentials grant against a loopback token endpoint (the Graph emulator)."""

    def __init__(
        self,
        *,
        authority: str,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not is_loopback(authority):
            raise ValueError("LoopbackClientSecretCredential only talks to loopback authorities")
        self._url = f"{authority.rstrip('/')}/{tenant_id}/oauth2/v2.0/token"
        self._form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        self._http = httpx.AsyncClient(timeout=10, transport=transport)
        self._cached: AccessToken | None = None

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        if self._cached and self._cached.expires_on - 60 > time.time():
            return self._cached
        response = await self._http.post(self._url, data={**self._form, "scope": " ".join(scopes)})
        if response.status_code != 200:
            raise GraphError(f"token request refused ({response.status_code})", status=response.status_code)
        body = response.json()
        self._cached = AccessToken(body["access_token"], int(time.time()) + int(body.get("expires_in", 3599)))
        return self._cached

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> LoopbackClientSecretCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.close()


def graph_credential(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> AsyncTokenCredential:
    """The credential the settings describe (exactly one of secret and certificate is set)."""
    authority = settings.graph_authority_host
    if settings.graph_client_secret is not None:
        secret = settings.graph_client_secret.get_secret_value()
        if is_loopback(authority):
            return LoopbackClientSecretCredential(
                authority=authority,
                tenant_id=settings.graph_tenant_id,
                client_id=settings.graph_client_id,
                client_secret=secret,
                transport=transport,
            )
        return ClientSecretCredential(settings.graph_tenant_id, settings.graph_client_id, secret, authority=authority)
    assert settings.graph_client_certificate is not None  # the settings model guarantees one of the two
    pem = settings.graph_client_certificate.get_secret_value().encode()
    return CertificateCredential(
        settings.graph_tenant_id, settings.graph_client_id, certificate_data=pem, authority=authority
    )
