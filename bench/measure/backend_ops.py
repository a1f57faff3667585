"""What the shared backends did for one run's own names, counted exactly (CPU of a shared
server is noisy; these counts are not):

* CQL reads, writes and range scans per table of the run's keyspace, as Cassandra's
  coordinator counts them (``system_views.coordinator_*_latency``, Cassandra 4.1+);
* messages stored in the run's NATS JetStream streams (the monitoring endpoint's ``/jsz``).

A backend that cannot say (ScyllaDB has no such views; monitoring off) is left out.

    counts = BackendOps(mesh.env, "http://127.0.0.1:18222")
    before = counts.snapshot()
    ...
    per_call = counts.per_call(before, counts.snapshot(), calls)
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping

KINDS = {"read": "coordinator_read_latency", "write": "coordinator_write_latency",
         "scan": "coordinator_scan_latency"}


class BackendOps:
    def __init__(self, env: Mapping[str, str], nats_monitor_url: str | None) -> None:
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import WhiteListRoundRobinPolicy

        from infra.sandbox import cql_auth

        self.keyspace = env["PHOTOMESH_CQL_KEYSPACE"]
        self.stream_prefix = env["PHOTOMESH_NATS_STREAM_PREFIX"] + "_"
        self.nats_monitor_url = nats_monitor_url
        hosts = json.loads(env["PHOTOMESH_CQL_CONTACT_POINTS"])
        profile = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy(hosts),
                                   request_timeout=10)
        self._cluster = Cluster(hosts, port=int(env["PHOTOMESH_CQL_PORT"]), protocol_version=4,
                                execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                                auth_provider=cql_auth(env))
        self._session = self._cluster.connect()
        self.cql = self._cql_counts() is not None

    def _cql_counts(self) -> dict[str, int] | None:
        counts: dict[str, int] = {}
        try:
            for kind, view in KINDS.items():
                for row in self._session.execute(
                        f"SELECT table_name, count FROM system_views.{view} "
                        f"WHERE keyspace_name = %s", [self.keyspace]):
                    counts[f"cql {kind} {row.table_name}"] = int(row.count)
        except Exception:  # noqa: BLE001 - a store without these views: no CQL counts
            return None
        return counts

    def _nats_counts(self) -> dict[str, int]:
        if not self.nats_monitor_url:
            return {}
        try:
            with urllib.request.urlopen(f"{self.nats_monitor_url}/jsz?streams=true",
                                        timeout=5) as reply:
                report = json.load(reply)
        except OSError:
            return {}
        counts = {}
        for account in report.get("account_details") or []:
            for stream in account.get("stream_detail") or []:
                if stream["name"].startswith(self.stream_prefix):
                    counts[f"nats {stream['name'][len(self.stream_prefix):]}"] = int(
                        stream["state"]["last_seq"])
        return counts

    def snapshot(self) -> dict[str, int]:
        return {**((self._cql_counts() or {}) if self.cql else {}), **self._nats_counts()}

    @staticmethod
    def per_call(before: Mapping[str, int], after: Mapping[str, int], calls: int
                 ) -> dict[str, object]:
        """Totals per call (CQL reads, writes, scans; NATS messages) and the non-zero
        entries by table or stream."""
        delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}

        def total(prefix: str) -> float:
            return round(sum(v for k, v in delta.items() if k.startswith(prefix)) / calls, 3) \
                if calls else float("nan")

        return {"cql_reads": total("cql read "), "cql_writes": total("cql write "),
                "cql_scans": total("cql scan "), "nats_messages": total("nats "),
                "by_name": {k: round(v / calls, 3) for k, v in sorted(delta.items())}
                if calls else {}}

    def close(self) -> None:
        self._cluster.shutdown()


__all__ = ["BackendOps"]
