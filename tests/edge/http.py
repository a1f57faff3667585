"""Plain HTTP against the edge (REST, media, OpenAPI): http.client, nothing on top."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int
    headers: dict[str, str]   # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(port: int, method: str, path: str, body: Any = None,
            headers: dict[str, str] | None = None, token: str | None = None,
            source: str | None = None) -> Reply:
    """One request to the edge on 127.0.0.1:`port`; `source` is the client's own address
    (another loopback address, e.g. 127.0.0.7, looks like another machine to the edge)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15,
                                      source_address=(source, 0) if source else None)
    sent = dict(headers or {})
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    data: bytes | None = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent.setdefault("content-type", "application/json")
    try:
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                     response.read())
    finally:
        conn.close()
