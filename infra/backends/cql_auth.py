"""The install's CQL role: logins with PasswordAuthenticator, and no default superuser.

A Cassandra node that starts with PasswordAuthenticator and no roles makes the well-known
superuser ``cassandra``/``cassandra`` (just after start). `ensure_role` logs in as it once,
makes the install's role (a superuser: it creates keyspaces, and test runs make their own),
and then, logged in as that role, drops ``cassandra``: from then on only the install's
password opens the store, and Cassandra never makes the default role again (roles exist).
The same happens when an install that ran without authentication is restarted with it
(`./photomesh up` after an upgrade): no data is touched.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from infra.backends.cassandra import cql_greeting
from infra.process import ProcessError

DEFAULT_SUPERUSER = ("cassandra", "cassandra")
#: How long a node may take to make its default role after it first answers CQL.
DEFAULT_ROLE_WAIT = 60.0


def _session(hosts: Sequence[str], port: int, credentials: tuple[str, str]):  # type: ignore[no-untyped-def]
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster

    cluster = Cluster(list(hosts), port=port, protocol_version=4,
                      auth_provider=PlainTextAuthProvider(*credentials),
                      connect_timeout=10, control_connection_timeout=10)
    return cluster, cluster.connect()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_role(hosts: Sequence[str], port: int, username: str, password: str,
                auth_replication: str | None = None) -> bool:
    """Make `username` a login superuser with `password` and drop the default superuser
    (idempotent, cheap when done: two CQL handshakes). `auth_replication`: the
    ``system_auth`` keyspace's replication map in a cluster (set before the role is
    written, so every node holds it). Returns True if anything changed."""
    host = hosts[0]
    ours = (username, password)
    changed = False
    if cql_greeting(host, port, credentials=ours) != "accepted":
        deadline = time.monotonic() + DEFAULT_ROLE_WAIT
        while cql_greeting(host, port, credentials=DEFAULT_SUPERUSER) != "accepted":
            if cql_greeting(host, port, credentials=ours) == "accepted":
                break  # someone else (another `up`) did it meanwhile
            if time.monotonic() > deadline:
                raise ProcessError(
                    f"cassandra at {host}:{port} accepts neither the install's CQL role "
                    f"{username!r} nor the default superuser: the password in the run dir's "
                    f"keys/backend_credentials.json is not the role's (was it replaced?)")
            time.sleep(0.5)
        else:
            cluster, session = _session(hosts, port, DEFAULT_SUPERUSER)
            try:
                if auth_replication:
                    session.execute(f"ALTER KEYSPACE system_auth WITH replication = "
                                    f"{auth_replication}")
                # (Cassandra takes one password change per role every few seconds: the
                # role is made with its password, never altered after.)
                session.execute(f"CREATE ROLE IF NOT EXISTS {_quote(username)} WITH "
                                f"PASSWORD = %s AND LOGIN = true AND SUPERUSER = true",
                                (password,))
            finally:
                cluster.shutdown()
            changed = True
    if cql_greeting(host, port, credentials=DEFAULT_SUPERUSER) == "accepted":
        cluster, session = _session(hosts, port, ours)
        try:
            session.execute(f"DROP ROLE IF EXISTS {_quote(DEFAULT_SUPERUSER[0])}")
        finally:
            cluster.shutdown()
        changed = True
    return changed
