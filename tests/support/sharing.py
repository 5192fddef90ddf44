"""The sharing routes (requests, holds, report) over a test ``Site``: ``sharing_for(site)``
and a LAN client for an app with them (and the settings routes, for the audit viewer)."""

from __future__ import annotations

import httpx

from nvr.sharing.requests import Paperwork, RequestLog
from nvr.web.app import create_app
from nvr.web.consents import exports_for
from nvr.web.sharing import Sharing
from tests.support.accounts import BASE, LAN, Site
from tests.support.settings import status


def sharing_for(site: Site, *, verify: bool = True) -> Sharing:
    box = site.box
    return Sharing(
        db=box.sessions,
        requests=RequestLog(box.sessions, box.record, site.clock),
        paperwork=Paperwork(
            box.cfg.storage.data_dir, box.sessions, box.keys.recipients, site.clock
        ),
        record=box.record,
        clock=site.clock,
        audit=box.audit if verify else None,
        exports=exports_for(box, box.segment_store, site.clock),
    )


def sharing_client(site: Site, sharing: Sharing | None = None) -> httpx.AsyncClient:
    app = create_app(
        status=status,
        accounts=site.accounts,
        segments=site.box.segment_store,
        record=site.box.record,
        sharing=sharing or sharing_for(site),
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=LAN), base_url=BASE)
