"""The connection options of ``send`` and ``read``: a connection string, or Entra ID.

With ``--namespace``, the credential is azure-identity's ``DefaultAzureCredential``
(environment variables, workload or managed identity, the Azure CLI's login, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click
from click.core import ParameterSource

__all__ = ["Connection", "connection_options"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Connection:
    """Where to publish; never printed (a connection string holds a key)."""

    connection_string: str | None
    eventhub_name: str | None
    namespace: str | None
    #: the network options (``transport_type=``, ``http_proxy=``, ...), for both clients
    network: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Connection(eventhub_name={self.eventhub_name!r}, namespace={self.namespace!r})"

    @classmethod
    def from_options(
        cls,
        connection_string: str | None,
        eventhub_name: str | None,
        namespace: str | None,
        network: dict[str, Any] | None = None,
    ) -> Connection:
        """Check that exactly one way to connect was given.

        When one comes from the command line and the other from an environment variable,
        the command line wins.

        :raises click.UsageError: if none or both were.
        """
        if connection_string and namespace:
            ctx = click.get_current_context()
            from_env = {
                name
                for name in ("connection_string", "namespace")
                if ctx.get_parameter_source(name) is ParameterSource.ENVIRONMENT
            }
            if from_env == {"connection_string"}:
                connection_string = None
            elif from_env == {"namespace"}:
                namespace = None
        if connection_string and namespace:
            raise click.UsageError(
                "give --connection-string or --namespace, not both "
                "(EVENTHUB_CONNECTION_STRING counts as --connection-string)"
            )
        if not connection_string and not namespace:
            raise click.UsageError(
                "no Event Hub to publish to: give --connection-string (or set "
                "EVENTHUB_CONNECTION_STRING), or --namespace with --eventhub-name. "
                "For a local one, run: anyio-eventhubs emulator"
            )
        if namespace and not eventhub_name:
            raise click.UsageError("--namespace needs --eventhub-name (or EVENTHUB_NAME)")
        return cls(
            connection_string or None, eventhub_name or None, namespace or None, network or {}
        )

    @property
    def target(self) -> str:
        """``host/hub`` for people: the connection string's endpoint, never its key."""
        host, hub = self.namespace, self.eventhub_name
        if self.connection_string is not None:
            fields = {}
            for part in self.connection_string.split(";"):
                name, _, value = part.partition("=")
                fields[name.strip().lower()] = value.strip()
            endpoint = fields.get("endpoint", "")
            host = endpoint.split("://", 1)[-1].rstrip("/") or "?"
            hub = hub or fields.get("entitypath")
        return f"{host}/{hub or '?'}"

    def consumer_client(self, consumer_group: str) -> AbstractContextManager[Any]:
        """azure-eventhub's sync ``EventHubConsumerClient`` for this hub (``read``)."""
        return _consumer_client(self, consumer_group)

    @contextmanager
    def producer_arguments(self, open_timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """The connection arguments of ``open_streaming_producer``; closes the credential."""
        if self.connection_string is not None:
            yield {
                "connection_string": self.connection_string,
                "eventhub_name": self.eventhub_name,
                "open_timeout": open_timeout,
                **self.network,
            }
            return
        from azure.identity import DefaultAzureCredential

        with DefaultAzureCredential() as credential:
            yield {
                "eventhub_name": self.eventhub_name,
                "fully_qualified_namespace": self.namespace,
                "credential": credential,
                "open_timeout": open_timeout,
                **self.network,
            }


@contextmanager
def _consumer_client(connection: Connection, consumer_group: str) -> Iterator[Any]:
    from azure.eventhub import EventHubConsumerClient

    if connection.connection_string is not None:
        yield EventHubConsumerClient.from_connection_string(
            connection.connection_string,
            consumer_group=consumer_group,
            eventhub_name=connection.eventhub_name,
            **connection.network,
        )
        return
    from azure.identity import DefaultAzureCredential

    with DefaultAzureCredential() as credential:
        yield EventHubConsumerClient(
            fully_qualified_namespace=str(connection.namespace),
            eventhub_name=str(connection.eventhub_name),
            consumer_group=consumer_group,
            credential=credential,
            **connection.network,
        )


def connection_options(func: F) -> F:
    """Add ``--connection-string``, ``--eventhub-name`` and ``--namespace`` to a command."""
    options = [
        click.option(
            "--connection-string",
            envvar="EVENTHUB_CONNECTION_STRING",
            metavar="TEXT",
            help="An Event Hubs connection string (env: EVENTHUB_CONNECTION_STRING).",
        ),
        click.option(
            "--eventhub-name",
            "--hub",
            envvar="EVENTHUB_NAME",
            help="The Event Hub; optional with a connection string that has EntityPath "
            "(env: EVENTHUB_NAME).",
        ),
        click.option(
            "--namespace",
            envvar="EVENTHUB_NAMESPACE",
            metavar="HOST",
            help="The namespace (e.g. NAME.servicebus.windows.net), authenticated with "
            "azure-identity's DefaultAzureCredential (env: EVENTHUB_NAMESPACE).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func
