"""What manage_webhooks accepts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from shared.validation import NO_NUL, Body, Query

WebhookEvent = Literal["target_reached", "day_closed"]


class WebhookSubscriptionRequest(Body):
    url: Annotated[str, Field(min_length=1, max_length=2048, pattern=NO_NUL)]
    events: Annotated[list[WebhookEvent], Field(min_length=1, max_length=2)]
    description: Annotated[str, Field(max_length=256, pattern=NO_NUL)] | None = None

    @field_validator("events")
    @classmethod
    def _unique_events(cls, events: list[WebhookEvent]) -> list[WebhookEvent]:
        if len(set(events)) != len(events):
            raise ValueError("an event type appears more than once")
        return events


class WebhookListQuery(Query):
    pass


class WebhookDeleteQuery(Query):
    id: Annotated[str, Field(min_length=1, max_length=64)]
