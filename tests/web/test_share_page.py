"""The share page and the timeline's selection mode over HTTP against a real box: what
the server renders for the page's script (the clip, the request it answers, the camera's
privacy masks from the config), what it refuses, and who is offered "Share a clip"."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from nvr.audit.entry import Actor
from nvr.config import CameraConfig
from nvr.web.app import create_app
from nvr.web.sharing import config_masks
from tests.support.accounts import BASE, LAN, Site, open_site
from tests.support.events import EventsKit
from tests.support.settings import as_, status
from tests.support.sharing import sharing_for

OWNER = Actor("owner", "alex")
CLIP = {"camera": "porch", "start": "2026-01-01T10:00:00Z", "end": "2026-01-01T10:00:30Z"}
MASK = [(0.0, 0.0), (0.25, 0.0), (0.25, 0.5)]
PORCH = CameraConfig.model_validate(
    {
        "name": "porch",
        "main_url": "rtsp://cam.test/main",
        "privacy_masks": [{"name": "neighbour", "points": [list(p) for p in MASK]}],
    }
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = open_site(tmp_path)
    yield built
    built.box.close()


@pytest.fixture
async def http(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    sharing = dataclasses.replace(sharing_for(site), privacy_masks=config_masks(lambda: [PORCH]))
    app = create_app(
        status=status,
        accounts=site.accounts,
        segments=site.box.segment_store,
        record=site.box.record,
        events=EventsKit(site).source(),
        sharing=sharing,
    )
    transport = httpx.ASGITransport(app=app, client=LAN)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def data(page: str, name: str) -> Any:
    """A ``data-*`` attribute of the share page's article, JSON-decoded."""
    found = re.search(rf'data-{name}="([^"]*)"', page)
    assert found, f"no data-{name} in the page"
    return json.loads(html.unescape(found.group(1)))


async def test_the_page_carries_the_clip_the_request_and_the_cameras_masks(
    site: Site, http: httpx.AsyncClient
) -> None:
    request = sharing_for(site).requests.create(
        {
            "organisation": "Metro Police",
            "reference": "CASE-77",
            "basis": "voluntary",
            "window_start": datetime(2026, 1, 1, 10, tzinfo=UTC),
            "window_end": datetime(2026, 1, 1, 11, tzinfo=UTC),
            "cameras": ["porch"],
        },
        OWNER,
    )
    r = await http.get("/share", params={**CLIP, "request": request.id}, headers=as_(site, "alex"))
    assert r.status_code == 200, r.text
    assert 'data-camera="porch"' in r.text
    assert 'data-start="2026-01-01T10:00:00Z"' in r.text
    assert 'data-end="2026-01-01T10:00:30Z"' in r.text
    assert data(r.text, "masks") == [[list(p) for p in MASK]]
    answered = data(r.text, "request")
    assert (answered["id"], answered["organisation"], answered["reference"]) == (
        request.id,
        "Metro Police",
        "CASE-77",
    )
    assert answered["cameras"] == ["porch"]
    assert (answered["window_start"], answered["window_end"]) == (
        "2026-01-01T10:00:00Z",
        "2026-01-01T11:00:00Z",
    )
    assert "Black out this camera's privacy masks (1)" in r.text
    assert 'id="opt-audio"' in r.text
    assert 'id="opt-audio" checked' not in r.text
    assert 'type="password"' in r.text
    assert "/static/share.js" in r.text


async def test_a_personal_share_of_a_camera_without_masks(
    site: Site, http: httpx.AsyncClient
) -> None:
    clip = {**CLIP, "camera": "garage", "start": "2026-01-01T11:00:00+01:00"}
    r = await http.get("/share", params=clip, headers=as_(site, "alex"))
    assert r.status_code == 200, r.text
    assert data(r.text, "request") is None
    assert data(r.text, "masks") == []
    assert 'data-start="2026-01-01T10:00:00Z"' in r.text  # in UTC
    assert 'id="opt-masks" disabled' in r.text
    assert "a personal share (no request)" in r.text


@pytest.mark.parametrize(
    ("query", "status_code", "says"),
    [
        ({}, 200, "Pick a clip on the timeline first"),
        ({**CLIP, "end": CLIP["start"]}, 400, "The clip must end after it starts."),
        ({**CLIP, "start": "yesterday"}, 400, "Pick a clip on the timeline first"),
        ({**CLIP, "start": "2026-01-01T10:00:00"}, 400, "Pick a clip"),  # no zone
        ({**CLIP, "end": "2026-01-01T17:00:00Z"}, 400, "at most 6 hours"),
    ],
)
async def test_no_clip_or_a_bad_one_says_why_and_loads_no_script(
    site: Site, http: httpx.AsyncClient, query: dict[str, str], status_code: int, says: str
) -> None:
    r = await http.get("/share", params=query, headers=as_(site, "alex"))
    assert r.status_code == status_code
    assert says in r.text
    assert "/static/share.js" not in r.text


async def test_an_unknown_request_is_a_404_page(site: Site, http: httpx.AsyncClient) -> None:
    r = await http.get("/share", params={**CLIP, "request": 999}, headers=as_(site, "alex"))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "no request" in r.text.lower() or "not found" in r.text.lower()


async def test_only_the_owner_is_offered_to_share_from_the_timeline(
    site: Site, http: httpx.AsyncClient
) -> None:
    owner = await http.get("/timeline", headers=as_(site, "alex"))
    assert owner.status_code == 200
    assert 'data-testid="share-a-clip"' in owner.text
    assert 'id="select-start" type="datetime-local" step="1"' in owner.text
    viewer = await http.get("/timeline", headers=as_(site, "sam"))
    assert viewer.status_code == 200
    assert "share-a-clip" not in viewer.text
    assert 'id="select"' not in viewer.text
    refused = await http.get("/share", params=CLIP, headers=as_(site, "sam"))
    assert refused.status_code == 403


def test_config_masks_follow_the_cameras_as_they_are_now() -> None:
    cameras: list[CameraConfig] = []
    masks = config_masks(lambda: cameras)
    assert masks("porch") == ()
    cameras.append(PORCH)
    assert masks("porch") == [MASK]
    assert masks("garage") == ()
