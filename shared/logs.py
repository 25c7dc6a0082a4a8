"""Structured logs: one JSON object per line on stdout, in the shape Cloud Logging reads.

Our own logger, not the root one: functions-framework reconfigures the root logger when
LOG_EXECUTION_ID is set.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from typing import Any

from shared.settings import get_settings

# The current request's trace id and function, set by shared.web.endpoint for every log line
# it causes.
request_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "request_context", default=None
)

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class CloudLoggingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "logger": record.name,
        }
        context = request_context.get()
        if context:
            entry["function"] = context["function"]
            trace = context.get("trace")
            project = get_settings().google_cloud_project
            if trace and project:
                entry["logging.googleapis.com/trace"] = f"projects/{project}/traces/{trace}"
            elif trace:
                entry["trace_id"] = trace
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            # Kept in the log for the operator, never sent to the client.
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure() -> None:
    """Sends the `shared` and `functions` loggers to stdout as JSON, once.

    What no line here shows is not collected for every record either (the logging HOWTO's
    "Optimization": the caller's file and line, the thread, the process): ~16 us of each
    request's one line (bench: progress_p50's no_http)."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    for name in ("shared", "functions"):
        logger = logging.getLogger(name)
        if not any(isinstance(h.formatter, CloudLoggingFormatter) for h in logger.handlers):
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
