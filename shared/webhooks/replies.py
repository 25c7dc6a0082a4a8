"""manage_webhooks' and deliver_webhooks' replies (see shared.web.replies)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import Field

from shared.web.replies import ReplyModel

EventType = Literal["target_reached", "day_closed"]
Count = Annotated[int, Field(ge=0)]


class WebhookSubscription(ReplyModel):
    """A subscription as stored (never its secret), in the order of the statements' columns."""

    id: uuid.UUID
    url: str
    events: list[EventType]
    description: str | None
    created_at: dt.datetime


class WebhookSubscriptionCreated(WebhookSubscription):
    secret: str = Field(
        pattern="^whsec_[A-Za-z0-9+/=]+$",
        description="Standard Webhooks secret, `whsec_` + base64; shown only here.",
    )


class DeliveryCounts(ReplyModel):
    pending: Count
    delivered: Count
    failed: Count


class WebhookSubscriptionState(WebhookSubscription):
    deliveries: DeliveryCounts
    last_attempt_at: dt.datetime | None
    last_error: str | None
    last_error_at: dt.datetime | None


class WebhookSubscriptionList(ReplyModel):
    subscriptions: list[WebhookSubscriptionState]


class WebhookDeleted(ReplyModel):
    deleted: Annotated[str, Field(min_length=1, max_length=64)]


class DeliveryRunReply(ReplyModel):
    """What one deliver_webhooks run did."""

    delivered: Count
    retrying: Count = Field(description="Failed this time; tried again after the backoff.")
    failed: Count = Field(description="Failed for good (24 h of retries).")
    dropped: Count = Field(description="Sent, but the subscription was deleted meanwhile.")
