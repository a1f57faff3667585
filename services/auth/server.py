"""gRPC transport of AuthService: proto in, domain call, proto out."""

from __future__ import annotations

import base64

from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio
from photomesh.auth.v1 import auth_service_pb2 as pb
from photomesh.auth.v1 import auth_service_pb2_grpc as pb_grpc

from services.auth.accounts import Accounts, Session
from services.auth.tokens import TokenIssuer
from services.runtime.clock import timestamp_from_datetime

# Callable without an access token.
PUBLIC_RPCS = ("Register", "Login", "Refresh", "Logout", "GetPublicKeys")


def _tokens(session: Session) -> pb.AuthTokens:
    access_expiry = Timestamp(seconds=session.access_expires_at)
    refresh_expiry = timestamp_from_datetime(session.refresh_expires_at)
    return pb.AuthTokens(access_token=session.access_token,
                         access_token_expire_time=access_expiry,
                         refresh_token=session.refresh_token,
                         refresh_token_expire_time=refresh_expiry, token_type="Bearer")


class AuthServicer(pb_grpc.AuthServiceServicer):
    def __init__(self, accounts: Accounts, issuer: TokenIssuer) -> None:
        self._accounts = accounts
        self._issuer = issuer

    async def Register(self, request: pb.RegisterRequest, context: aio.ServicerContext
                       ) -> pb.RegisterResponse:
        session = await self._accounts.register(request.request_id, request.username,
                                                request.password, request.display_name)
        return pb.RegisterResponse(user_id=session.user_id, tokens=_tokens(session))

    async def Login(self, request: pb.LoginRequest, context: aio.ServicerContext
                    ) -> pb.LoginResponse:
        session = await self._accounts.login(request.username, request.password)
        return pb.LoginResponse(user_id=session.user_id, tokens=_tokens(session))

    async def Refresh(self, request: pb.RefreshRequest, context: aio.ServicerContext
                      ) -> pb.RefreshResponse:
        session = await self._accounts.refresh(request.refresh_token)
        return pb.RefreshResponse(user_id=session.user_id, tokens=_tokens(session))

    async def Logout(self, request: pb.LogoutRequest, context: aio.ServicerContext
                     ) -> pb.LogoutResponse:
        await self._accounts.logout(request.refresh_token)
        return pb.LogoutResponse()

    async def GetPublicKeys(self, request: pb.GetPublicKeysRequest,
                            context: aio.ServicerContext) -> pb.GetPublicKeysResponse:
        key = pb.PublicKey(
            kid=self._issuer.kid, kty="OKP", alg="EdDSA", use="sig", crv="Ed25519",
            x=base64.urlsafe_b64encode(self._issuer.public_raw).rstrip(b"=").decode(),
            public_key_pem=self._issuer.public_pem)
        return pb.GetPublicKeysResponse(keys=[key])
