"""The demo's use case, generated: one-line summaries of customer-support tickets, tagged by project and split.

The metadata filter selects the training split; the validation split and another team's traffic share the
invocation logs and must be left out of training.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PROJECT = "support-summaries"
TRAINING_TICKETS = 120
VALIDATION_TICKETS = 15
OTHER_PROJECT = "marketing-copy"
OTHER_PROJECT_PROMPTS = 15
METADATA_FILTER: dict[str, Any] = {"andAll": [{"equals": {"project": PROJECT}}, {"equals": {"split": "train"}}]}
SYSTEM_PROMPT = "You summarise customer-support tickets in one line for the on-call engineer."

_PRODUCTS = ("LaserJet Pro 400", "Router AX3000", "Smart Thermostat S2", "Billing portal", "Mobile app", "NAS DS220")
_SYMPTOMS = (
    "stops responding after the latest firmware update",
    "shows error code E{code} on start-up",
    "charges the customer twice for one order",
    "drops the connection every {minutes} minutes",
    "loses its settings after a power cut",
    "rejects a valid password since yesterday",
    "runs very slowly when more than {count} users are signed in",
)
_CONTEXTS = (
    "The customer already restarted the device twice.",
    "This is the third ticket from this customer this month.",
    "The customer has a business plan with a four-hour response commitment.",
    "Logs were attached to the ticket.",
    "The customer is travelling and can only reply by email.",
)
_TONES = ("Polite but frustrated.", "Very angry, threatens to cancel.", "Calm, asks for a workaround.")
_MARKETING_ASKS = (
    "Write a tagline for the spring sale on {product}.",
    "Draft a two-sentence product blurb for {product}.",
    "Suggest a subject line for the {product} newsletter.",
)


@dataclass(frozen=True)
class TeacherRequest:
    user_text: str
    system_text: str
    metadata: dict[str, str]


def ticket_text(rng: random.Random, number: int) -> str:
    product = rng.choice(_PRODUCTS)
    symptom = rng.choice(_SYMPTOMS).format(
        code=rng.randint(100, 999), minutes=rng.choice((5, 10, 30)), count=rng.choice((5, 20, 50))
    )
    return (
        f"Summarise support ticket #{number} in one line.\n\n"
        f"Product: {product}\nIssue: the {product} {symptom}.\n"
        f"{rng.choice(_CONTEXTS)} Customer mood: {rng.choice(_TONES)}"
    )


def teacher_requests(seed: int) -> list[TeacherRequest]:
    """The demo's Converse traffic, in a seeded and so reproducible order of interleaved teams and splits."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    requests = [
        TeacherRequest(ticket_text(rng, 1000 + i), SYSTEM_PROMPT, {"project": PROJECT, "split": "train"})
        for i in range(TRAINING_TICKETS)
    ]
    requests += [
        TeacherRequest(ticket_text(rng, 5000 + i), SYSTEM_PROMPT, {"project": PROJECT, "split": "validation"})
        for i in range(VALIDATION_TICKETS)
    ]
    requests += [
        TeacherRequest(
            rng.choice(_MARKETING_ASKS).format(product=rng.choice(_PRODUCTS)),
            "You write short, upbeat marketing copy.",
            {"project": OTHER_PROJECT, "split": "train"},
        )
        for _ in range(OTHER_PROJECT_PROMPTS)
    ]
    rng.shuffle(requests)
    return requests


def conversation_records(answered: Sequence[tuple[TeacherRequest, str]], split: str) -> list[dict[str, Any]]:
    """One split of the tickets as bedrock-conversation-2024 records, the teacher's answers as the targets."""
    return [
        {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": request.system_text}],
            "messages": [
                {"role": "user", "content": [{"text": request.user_text}]},
                {"role": "assistant", "content": [{"text": answer}]},
            ],
        }
        for request, answer in answered
        if request.metadata == {"project": PROJECT, "split": split}
    ]


def filter_text() -> str:
    return json.dumps(METADATA_FILTER)
