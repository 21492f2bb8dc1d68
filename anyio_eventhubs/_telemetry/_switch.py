"""Whether anyone is listening: an OpenTelemetry provider, or azure-core's tracing switch.

Asked once per producer, when it opens: a provider configured later is not seen by a
producer that is already open. Imports ``opentelemetry``, so only ``__init__`` calls it,
after checking that the package is installed.
"""

from __future__ import annotations

from opentelemetry import metrics, trace

__all__ = ["azure_tracing_enabled", "metrics_configured", "tracing_configured"]

_UNSET_METER_PROVIDERS: tuple[type, ...]
try:  # the API's stand-in until a provider is set (private, hence the fallback)
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    _UNSET_METER_PROVIDERS = (_ProxyMeterProvider, metrics.NoOpMeterProvider)
except ImportError:  # pragma: no cover - a different opentelemetry-api
    _UNSET_METER_PROVIDERS = (metrics.NoOpMeterProvider,)


def azure_tracing_enabled() -> bool:
    """Whether the user turned on Azure SDK tracing through ``azure.core.settings``.

    That is ``settings.tracing_implementation`` (``"opentelemetry"`` with
    azure-core-tracing-opentelemetry, or ``AZURE_SDK_TRACING_IMPLEMENTATION``) or
    ``settings.tracing_enabled`` (``AZURE_TRACING_ENABLED``, azure-core's native
    OpenTelemetry tracing).
    """
    from azure.core.settings import settings

    try:
        return settings.tracing_implementation() is not None or bool(settings.tracing_enabled())
    except Exception:  # a malformed setting is azure-core's to report, not ours
        return False


def tracing_configured() -> bool:
    """Whether spans would go anywhere: a tracer provider set, or Azure tracing on."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return True
    return azure_tracing_enabled()


def metrics_configured() -> bool:
    """Whether measurements would go anywhere: a meter provider set."""
    provider = metrics.get_meter_provider()
    return not isinstance(provider, _UNSET_METER_PROVIDERS)
