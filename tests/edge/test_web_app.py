"""The web app as the edge serves it: the page (no token needed, never cached, a strict
script policy) and its content-hashed assets (cached for good)."""

from __future__ import annotations

import re

from infra.backends.envoy import EnvoyBackend
from tests.edge.http import request


def test_page_and_assets(edge: EnvoyBackend) -> None:
    port = edge.settings.envoy_port
    page = request(port, "GET", "/")
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    html = page.body.decode()
    assets = re.findall(r'"/assets/(app-[A-Z0-9]+\.(?:js|css))"', html)
    assert sorted(a.rsplit(".", 1)[1] for a in assets) == ["css", "js"], html
    for name in assets:
        asset = request(port, "GET", f"/assets/{name}")
        assert asset.status == 200, name
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["content-type"].startswith(
            "text/javascript" if name.endswith(".js") else "text/css")
    # The bundle: the app (it looks for the edge's address) over the gRPC-Web transport.
    script = request(port, "GET", f"/assets/{next(a for a in assets if a.endswith('.js'))}")
    assert b"photomesh-edge" in script.body and b"application/grpc-web" in script.body


def test_unknown_asset_and_methods(edge: EnvoyBackend) -> None:
    port = edge.settings.envoy_port
    assert request(port, "GET", "/assets/app-NOPE.js").status == 404
    assert request(port, "HEAD", "/").status == 200
    assert request(port, "POST", "/", {"x": 1}).status == 404
