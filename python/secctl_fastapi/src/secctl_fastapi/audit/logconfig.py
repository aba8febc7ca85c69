"""structlog configuration: one JSON object per line on stderr, secrets redacted before rendering."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from .redact import structlog_processor


def configure_logging(service: str, *, level: int = logging.INFO, stream: Any = None) -> structlog.typing.FilteringBoundLogger:
    """Configures structlog process-wide and returns a logger bound to ``service``."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="@timestamp"),
            structlog.processors.format_exc_info,
            structlog_processor,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    return structlog.get_logger().bind(service=service)
