"""Settings of the message service and its inbox worker (prefix ``PHOTOMESH_MESSAGE_``;
each process's server options are its own: ``PHOTOMESH_MESSAGE_*`` and
``PHOTOMESH_MESSAGE_WORKER_*``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServiceSettings, service_config


class MessageSettings(ServiceSettings):
    model_config = service_config("MESSAGE")

    bucket_days: int = Field(
        default=30, ge=1, le=3650, description="a thread's messages are partitioned by "
                                               "thread and this many days of message ids")
    social_view_ttl_seconds: int = Field(
        default=3600, ge=10, description="cached relations and member summaries are "
                                         "refilled after this even without a graph event")
    unread_ttl_seconds: int = Field(
        default=86400, ge=60, description="a user's cached unread counts are rebuilt from "
                                          "CQL after this long without a write")
    stream_queue_size: int = Field(default=256, ge=1,
                                   description="events buffered per connected stream before "
                                               "the slowest client is cut off")
    sweep_slot_seconds: int = Field(
        default=5, ge=1, description="sends and unsends whose event may not have gone out "
                                     "are looked at by the sweeper after about this long "
                                     "(services/runtime/pending.py)")
    sweep_seconds: float = Field(default=2.0, gt=0,
                                 description="how often the sweeper reads ripe slots")
    consume_concurrency: int = Field(
        default=16, ge=1, description="message events handled at once by the worker (each "
                                      "acked after its inbox writes)")
