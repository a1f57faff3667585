"""Run the auth service: ``python -m services.auth``."""

from __future__ import annotations

from photomesh.auth.v1 import auth_service_pb2 as pb

from services.auth.accounts import Accounts
from services.auth.passwords import Passwords
from services.auth.server import PUBLIC_RPCS, AuthServicer
from services.auth.settings import AuthServiceSettings
from services.auth.store import AccountStore
from services.auth.throttle import LoginThrottle
from services.auth.tokens import TokenIssuer
from services.runtime.app import Built, Context, Needs, definition, main
from services.runtime.cache import KeySpace

NAME = "auth"


async def build(ctx: Context[AuthServiceSettings]) -> Built:
    settings, backends = ctx.settings, ctx.backends
    assert backends.cql and backends.redis and backends.redis_settings
    issuer = TokenIssuer(settings.private_key_path.read_bytes(), settings.issuer,
                         settings.audience, settings.access_token_ttl_seconds)
    throttle = LoginThrottle(backends.redis, KeySpace(backends.redis_settings, NAME),
                             settings.login_attempts_per_window, settings.login_window_seconds)
    accounts = Accounts(AccountStore(backends.cql),
                        Passwords(settings.argon2_time_cost, settings.argon2_memory_kib),
                        issuer, throttle, settings.refresh_token_ttl_seconds, ctx.peers.graph)
    return Built(definition(NAME, pb, "AuthService", AuthServicer(accounts, issuer),
                            public=PUBLIC_RPCS), domain=accounts)


if __name__ == "__main__":
    main(NAME, AuthServiceSettings, Needs(cql=True, redis=True), build)
