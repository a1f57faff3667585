"""Settings of the auth service (prefix ``PHOTOMESH_AUTH_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.runtime.settings import ServiceSettings, service_config


class AuthServiceSettings(ServiceSettings):
    model_config = service_config("AUTH")

    private_key_path: Path = Field(description="Ed25519 private key (PEM) that signs tokens")
    issuer: str = "photomesh-auth"
    audience: str = "photomesh"
    access_token_ttl_seconds: int = Field(default=900, ge=10, le=86400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86400, ge=60)
    login_attempts_per_window: int = Field(default=10, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8192)
