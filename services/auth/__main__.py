"""Run the auth service: ``python -m services.auth``."""

from __future__ import annotations

from photomesh.auth.v1 import auth_service_pb2 as pb
from photomesh.auth.v1 import auth_service_pb2_grpc as pb_grpc

from services.auth.accounts import Accounts
from services.auth.passwords import Passwords
from services.auth.profiles import ProfileDirectory
from services.auth.server import PUBLIC_RPCS, AuthServicer
from services.auth.settings import AuthServiceSettings
from services.auth.store import AccountStore
from services.auth.throttle import LoginThrottle
from services.auth.tokens import TokenIssuer
from services.runtime.app import Built, Needs, definition, main, service_credentials
from services.runtime.backends import Backends
from services.runtime.cache import KeySpace
from services.runtime.grpc_clients import peer_channel
from services.runtime.sessions import SessionRevocations
from services.runtime.settings import PeerSettings, load


async def build(settings: AuthServiceSettings, backends: Backends) -> Built:
    assert backends.cql and backends.redis and backends.redis_settings
    issuer = TokenIssuer(settings.private_key_path.read_bytes(), settings.issuer,
                         settings.audience, settings.access_token_ttl_seconds)
    throttle = LoginThrottle(backends.redis, KeySpace(backends.redis_settings, "auth"),
                             settings.login_attempts_per_window,
                             settings.login_attempts_per_account_window,
                             settings.login_window_seconds, settings.login_trusted_address_days)
    graph = peer_channel(load(PeerSettings).graph_target)
    accounts = Accounts(AccountStore(backends.cql),
                        Passwords(settings.argon2_time_cost, settings.argon2_memory_kib,
                                  settings.max_concurrent_hashes, settings.max_waiting_hashes),
                        issuer, throttle, settings.refresh_token_ttl_seconds,
                        ProfileDirectory(graph, service_credentials("auth")),
                        SessionRevocations(backends.redis, backends.redis_settings))
    return Built(definition("auth", pb, pb_grpc, "AuthService", AuthServicer(accounts, issuer),
                            public=PUBLIC_RPCS), on_stop=[graph.close])


if __name__ == "__main__":
    main("auth", AuthServiceSettings, Needs(cql=True, redis=True), build)
