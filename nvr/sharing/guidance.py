"""Plain-language notes per legal basis, shown on a request's page (SHARING.md "Requests").

General information for a household, written to be read in a minute: what this kind of
request usually means, and what the owner may do. It is NOT legal advice, the law differs
between countries, and every entry says so (``DISCLAIMER``, shown with each).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nvr.sharing.requests import LegalBasis

DISCLAIMER = (
    "This is general information, not legal advice. Laws differ between countries and "
    "regions; if in doubt, ask a lawyer before you answer."
)


@dataclass(frozen=True)
class Guidance:
    title: str
    means: str
    you_may: tuple[str, ...]
    compels: bool  # whether this kind of request usually obliges the owner to answer


GUIDANCE: Mapping[LegalBasis, Guidance] = {
    LegalBasis.VOLUNTARY: Guidance(
        "Voluntary request",
        "Someone (often the police) asks whether you would share footage. Nobody has "
        "ordered you to.",
        (
            "Decline. You do not have to say why, and declining is recorded like any answer.",
            "Share only what was asked for: one camera, the requested window, no audio.",
            "Ask for the request in writing, with a reference number, before deciding.",
        ),
        compels=False,
    ),
    LegalBasis.PRESERVATION: Guidance(
        "Preservation request",
        "A request to keep footage from being deleted while the requester seeks a formal "
        "order. It usually asks you to keep, not to hand over.",
        (
            "Place a legal hold on the requested window so retention does not delete it.",
            "Hand nothing over unless a later order or your own choice says so.",
            "Ask how long they want it kept; release the hold when the time is over.",
        ),
        compels=False,
    ),
    LegalBasis.SUBPOENA: Guidance(
        "Subpoena",
        "A formal demand to produce records, usually issued in a legal proceeding. It can "
        "carry a duty to answer by a date, but it can often be questioned or narrowed.",
        (
            "Read exactly what it names (cameras, dates, times) and its deadline.",
            "Talk to a lawyer: a subpoena may be challenged, narrowed or clarified.",
            "Place a legal hold on what it names so nothing expires meanwhile.",
        ),
        compels=True,
    ),
    LegalBasis.COURT_ORDER: Guidance(
        "Court order",
        "A judge ordered that footage be produced. It compels production of what it names.",
        (
            "Talk to a lawyer before answering.",
            "Produce what it names and nothing more: release text and redaction still apply.",
            "Place a legal hold on what it names so nothing expires meanwhile.",
        ),
        compels=True,
    ),
    LegalBasis.SEARCH_WARRANT: Guidance(
        "Search warrant",
        "A judge authorised a search or seizure. It compels production of what it names, "
        "often at once; do not obstruct it.",
        (
            "Ask to see the warrant and keep a copy with this request.",
            "Talk to a lawyer as soon as you can.",
            "Only what the warrant names is covered; note anything else that was asked.",
        ),
        compels=True,
    ),
    LegalBasis.EMERGENCY_CLAIM: Guidance(
        "Emergency claim",
        "Someone says footage is needed at once to prevent harm. It is a request, not an "
        "order: you decide.",
        (
            "Decide whether the emergency is believable; you may share or decline.",
            "Share the smallest clip that helps, and record who asked and why.",
            "Ask for a formal request to follow, and add it to this record.",
        ),
        compels=False,
    ),
}
