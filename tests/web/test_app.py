"""The app factory: health, deny-by-default for remote clients, headers, error mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from nvr.service.status import CameraStatus, ServiceStatus
from nvr.web.app import SECURITY_HEADERS, create_app

STARTED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _status() -> ServiceStatus:
    return ServiceStatus(
        version="0.1.0",
        started_at=STARTED,
        uptime_seconds=5.0,
        tls_fingerprint="AB:CD",
        cameras=[
            CameraStatus(
                name="porch",
                state="online",
                codec="h264",
                width=640,
                height=360,
                fps=15.0,
                bitrate_kbps=800.0,
                packets=42,
            )
        ],
    )


def _client(host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(status=_status), client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="https://box.test")


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_health_from_the_box_itself(host: str) -> None:
    async with _client(host) as client:
        r = await client.get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == "0.1.0"
    assert body["cameras"][0]["name"] == "porch"
    assert body["cameras"][0]["state"] == "online"
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value
    assert r.headers["strict-transport-security"].startswith("max-age=")


@pytest.mark.parametrize("path", ["/api/v1/health", "/"])
async def test_remote_clients_are_denied_until_sign_in_exists(path: str) -> None:
    async with _client("192.0.2.10") as client:
        r = await client.get(path)
    assert r.status_code == 403
    # A page refused is shown as a page; the API answers JSON.
    reason = r.text if path in ("/", "/cameras", "/live") else r.json()["error"]
    assert "only available on the box" in reason


async def test_liveness_is_public_and_says_nothing_else() -> None:
    async with _client("192.0.2.10") as client:
        r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_status_page_lists_cameras() -> None:
    async with _client("127.0.0.1") as client:
        r = await client.get("/")
        css = await client.get("/static/porchlight.css")
    assert r.status_code == 200
    assert "porch" in r.text
    assert "online" in r.text
    assert "<script" not in r.text
    assert css.status_code == 200


async def test_unknown_route_is_a_json_404() -> None:
    async with _client("127.0.0.1") as client:
        r = await client.get("/api/v1/nope")
        page = await client.get("/nope")
    assert r.status_code == 404
    assert r.json() == {"error": "Not Found"}
    # A page that does not exist is a page saying so, with a way back.
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in page.text


async def test_openapi_schema_is_served() -> None:
    async with _client("127.0.0.1") as client:
        r = await client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert "/api/v1/health" in r.json()["paths"]
