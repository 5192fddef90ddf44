"""A request, recorded and declined through the pages in Chromium against the real
service, then seen in the transparency report (issue 7 items 1 and 8)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from playwright.sync_api import Page, expect

from tests.support.browser import expect_no_console_errors, screenshot


def local(when: datetime) -> str:
    """A ``datetime-local`` input value."""
    return when.strftime("%Y-%m-%dT%H:%M")


def test_record_a_request_decline_it_and_see_it_in_the_report(signed_in_page: Page) -> None:
    page = signed_in_page
    now = datetime.now()  # the browser's zone is the machine's: both read the same clock
    page.get_by_role("link", name="Requests").click()
    page.get_by_test_id("new-request").click()
    page.get_by_label("Organisation (or person) asking").fill("Metro Police")
    page.get_by_label("Badge or ID number").fill("4471")
    page.get_by_label("Case or reference number").fill("CASE-77")
    page.get_by_label("Legal basis").select_option("voluntary")
    page.get_by_label("How it arrived").select_option("in_person")
    page.get_by_label("Received at").fill(local(now - timedelta(hours=1)))
    page.get_by_label("Response deadline").fill(local(now + timedelta(hours=20)))
    page.get_by_label("From").fill(local(now - timedelta(days=1)))
    page.get_by_label("To", exact=True).fill(local(now - timedelta(days=1, minutes=-30)))
    page.get_by_label("Cameras (comma separated)").fill("demo-doorbell")
    page.get_by_label("Stated reason").fill("a parcel went missing")
    page.get_by_test_id("save-request").click()

    # The request's page: received, guidance for a voluntary request, the deadline banner.
    state = page.get_by_test_id("request-state")
    expect(state).to_have_text("received")
    expect(page.get_by_text("not legal advice")).to_be_visible()
    expect(page.get_by_text("You do not have to say why")).to_be_visible()
    expect(page.locator(".banner.deadlines")).to_contain_text("Metro Police (CASE-77): due")
    # Share leads to the requested camera's recording of that day (the browser's day), in
    # the timeline's selection mode for this request (tests/browser/test_share_flow.py).
    day = (now - timedelta(days=1)).date()
    expect(page.get_by_test_id("share")).to_have_attribute(
        "href", re.compile(rf"^/timeline\?request=\d+&camera=demo-doorbell&day={day}$")
    )
    decline = page.get_by_test_id("decline")
    assert decline.is_enabled()
    screenshot(page, "request-received")

    page.get_by_label("Notes (every change is kept in the history)").fill("asked by phone too")
    page.get_by_role("button", name="Save notes").click()
    expect(page.get_by_test_id("history")).to_contain_text("notes: — → asked by phone too")

    decline.click()
    expect(state).to_have_text("declined")
    expect(page.get_by_test_id("history")).to_contain_text("received → declined")
    expect(decline).to_be_hidden()

    # The report: from the audit log, verified, with the declined request in it.
    page.get_by_role("link", name="Report").click()
    expect(page.get_by_test_id("report-audit")).to_contain_text("verified")
    expect(page.get_by_test_id("report-declines")).to_have_text("1")
    row = page.get_by_test_id("report-requests").get_by_role("row").filter(has_text="Metro Police")
    expect(row).to_contain_text("declined")
    expect(page.locator(".banner.deadlines")).to_have_count(0)  # answered: no reminder
    screenshot(page, "report")
    expect_no_console_errors(page)
