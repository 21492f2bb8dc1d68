"""Hypothesis strategies for testing code that publishes with anyio-eventhubs.

Importing this module imports `hypothesis <https://hypothesis.readthedocs.io>`_, which is
not a dependency of anyio-eventhubs: install it with your test dependencies.
``anyio_eventhubs.testing`` itself does not import it. ::

    from hypothesis import given
    from anyio_eventhubs.testing.strategies import events, partition_keys

    @given(event=events(), key=partition_keys())
    def test_my_router(event, key): ...

Every value drawn is valid for the producer: events encode, keys are accepted as
``partition_key=``, retry options construct.
"""

from __future__ import annotations

import math
import uuid
from typing import TypeAlias

from azure.eventhub import EventData
from hypothesis import strategies as st

from .._retry import RetryOptions

__all__ = [
    "event_bodies",
    "event_properties",
    "events",
    "partition_keys",
    "retry_options",
]

#: a value of an application property that azure-eventhub can encode (its ``int`` is
#: an AMQP int: 32 bits)
PropertyValue: TypeAlias = "str | int | float | bool | bytes | uuid.UUID | None"

_INT32 = 2**31


def event_bodies(*, min_size: int = 0, max_size: int = 256) -> st.SearchStrategy[bytes | str]:
    """Bodies as ``queue_for_send`` accepts them: ``bytes``, or ``str`` (sent as UTF-8).

    :param min_size: the fewest bytes (for ``bytes``) or characters (for ``str``).
    :param max_size: the most bytes or characters; a ``str`` of *max_size* characters
        can take up to four times as many bytes.
    """
    return st.one_of(
        st.binary(min_size=min_size, max_size=max_size),
        st.text(min_size=min_size, max_size=max_size),
    )


def event_properties(
    *, max_entries: int = 4, max_size: int = 16
) -> st.SearchStrategy[dict[str, PropertyValue]]:
    """Application properties: ``str`` keys, values of every type azure-eventhub encodes.

    Integers stay within 32 bits and floats are finite (azure-eventhub encodes ``int``
    as an AMQP int; a ``nan`` would not compare equal after a round trip).

    :param max_entries: the most properties in one dict.
    :param max_size: the longest key, and the longest ``str`` or ``bytes`` value.
    """
    values: st.SearchStrategy[PropertyValue] = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-_INT32, max_value=_INT32 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=max_size),
        st.binary(max_size=max_size),
        st.uuids(),
    )
    return st.dictionaries(st.text(max_size=max_size), values, max_size=max_entries)


@st.composite
def _event_data(
    draw: st.DrawFn,
    bodies: st.SearchStrategy[bytes | str],
    properties: st.SearchStrategy[dict[str, PropertyValue]],
) -> EventData:
    event = EventData(draw(bodies))
    props = draw(st.none() | properties)
    if props is not None:
        event.properties = props  # type: ignore[assignment]  # azure's stub: dict[str|bytes, Any]
    content_type = draw(st.none() | st.sampled_from(["application/json", "text/plain"]))
    if content_type is not None:
        event.content_type = content_type
    return event


def events(
    *,
    bodies: st.SearchStrategy[bytes | str] | None = None,
    properties: st.SearchStrategy[dict[str, PropertyValue]] | None = None,
) -> st.SearchStrategy[EventData | bytes | str]:
    """Events as ``queue_for_send`` accepts them: an ``EventData`` or a bare body.

    An ``EventData`` gets, sometimes, application properties and a ``content_type``.
    Each draw is a new object (the producer keeps a reference until it is sent).

    :param bodies: the bodies (default :func:`event_bodies`).
    :param properties: the application properties of ``EventData`` events (default
        :func:`event_properties`).
    """
    body_strategy = event_bodies() if bodies is None else bodies
    property_strategy = event_properties() if properties is None else properties
    return st.one_of(body_strategy, _event_data(body_strategy, property_strategy))


def _pad_to_twelve_bytes(key: str) -> str:
    # the service's key hash (lookup3) eats 12 bytes at a time: a key whose UTF-8
    # length is a multiple of 12 takes the "last block is full" path
    return key + "k" * (-len(key.encode("utf-8")) % 12)


def partition_keys(*, max_size: int = 48) -> st.SearchStrategy[str]:
    """Partition keys: non-empty ``str``, ASCII and not, often a multiple of 12 bytes long.

    The service hashes a key's UTF-8 bytes 12 at a time, so keys whose byte length is a
    multiple of 12 (and just around it) are drawn on purpose, ASCII and non-ASCII.

    :param max_size: the most characters before padding (a padded key can be up to 11
        characters longer).
    """
    if max_size < 1:
        raise ValueError(f"max_size must be >= 1, got {max_size}")
    any_text = st.text(min_size=1, max_size=max_size)
    return st.one_of(
        any_text,
        st.text(st.characters(codec="ascii"), min_size=1, max_size=max_size),
        any_text.map(_pad_to_twelve_bytes),
        st.sampled_from([11, 12, 13, 24, 36]).flatmap(
            lambda n: st.text(st.characters(codec="ascii"), min_size=n, max_size=n)
        ),
    )


def retry_options(
    *, max_retries: int = 5, max_delay: float = 60.0, max_try_timeout: float = 120.0
) -> st.SearchStrategy[RetryOptions]:
    """Valid :class:`~anyio_eventhubs.RetryOptions`, within the given bounds.

    ``delay`` and ``max_delay`` are drawn up to *max_delay* (0 included, so that tests
    need not wait); ``try_timeout`` is positive, sometimes ``math.inf``.

    :param max_retries: the largest ``max_retries``.
    :param max_delay: the largest ``delay`` and ``max_delay``, in seconds.
    :param max_try_timeout: the largest finite ``try_timeout``, in seconds.
    """
    if max_retries < 0:
        raise ValueError(f"max_retries must be >= 0, got {max_retries}")
    if not 0 <= max_delay < math.inf:
        raise ValueError(f"max_delay must be finite and >= 0, got {max_delay!r}")
    if not 0 < max_try_timeout < math.inf:
        raise ValueError(f"max_try_timeout must be finite and > 0, got {max_try_timeout!r}")
    delays = st.floats(min_value=0.0, max_value=max_delay)
    return st.builds(
        RetryOptions,
        max_retries=st.integers(min_value=0, max_value=max_retries),
        delay=delays,
        max_delay=delays,
        mode=st.sampled_from(["exponential", "fixed"]),
        try_timeout=st.one_of(
            st.floats(min_value=0.0, max_value=max_try_timeout, exclude_min=True),
            st.just(math.inf),
        ),
        jitter=st.floats(min_value=0.0, max_value=1.0),
    )
