"""Resuming an earlier run's idempotent identity on a partition (issue #10).

A producer restarted on its journal attaches each partition that has a stored identity
again with that producer id and epoch and a null sequence number, so that the service
reports its own last number and recognises a re-sent batch by its numbers
(``docs/idempotent-publishing.md``, "Resuming a producer group after a restart"). If
the service refuses the identity (it no longer knows the producer id), the partition
attaches as a new producer, and what the earlier run numbered is numbered afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._azure_amqp_link import open_partition as open_partition_producer
from .._azure_amqp_link import reset_partition as reset_partition_producer
from .._exceptions import TransportError
from ._bridge import Bridge
from ._errors import _amqp_error, _condition, _describe, map_exceptions, redact
from ._idempotent import IdempotentPartition, open_idempotent
from ._stamp import PRODUCER_EPOCH_STOLEN

__all__ = ["resume_idempotent"]

logger = logging.getLogger("anyio_eventhubs")


async def resume_idempotent(
    bridge: Bridge,
    producer: Any,
    partition: IdempotentPartition,
    producer_id: int,
    epoch: int,
    context: str,
) -> bool:
    """Attach *producer*'s link again as *producer_id* with *epoch*; fall back to a new
    identity if the service refuses that one.

    :returns: whether the service took the identity back.
    """
    publishing, link = partition.publishing, partition.link
    try:
        await bridge.run(reset_partition_producer, producer)
    except Exception as exc:
        logger.debug("ignored while re-attaching: %s", redact(str(exc)))
    publishing.resume(producer_id, epoch)
    try:
        with _refused_identity(), map_exceptions(context, opening=True):
            await bridge.run(open_partition_producer, producer, link)
    except _IdentityRefused as exc:
        refused = str(exc)
    else:
        try:
            publishing.attached(link.remote_properties)
            return True
        except TransportError:  # the refusal's detach comes after an empty attach reply
            refused = "the attach reply carries no producer properties"
    logger.warning(
        "%s: the service refused to resume producer id %s epoch %s (%s); publishing as a "
        "new producer: batches of the earlier run are numbered afresh and may be stored "
        "twice",
        context,
        producer_id,
        epoch,
        refused,
    )
    publishing.forget_resume()
    try:
        await bridge.run(reset_partition_producer, producer)
    except Exception as exc:
        logger.debug("ignored while re-attaching: %s", redact(str(exc)))
    await open_idempotent(bridge, producer, partition, context)
    return False


class _IdentityRefused(Exception):
    pass


@contextmanager
def _refused_identity() -> Iterator[None]:
    """An attach refused for its producer properties (an id the service does not know,
    an epoch it does not take) becomes :class:`_IdentityRefused`."""
    try:
        yield
    except TransportError as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        error = _amqp_error(cause)
        if _condition(error) in _IDENTITY_REFUSALS:
            raise _IdentityRefused(_describe(cause, error)) from exc
        raise


_IDENTITY_REFUSALS = frozenset(
    ("amqp:not-allowed", "com.microsoft:argument-out-of-range", PRODUCER_EPOCH_STOLEN)
)
