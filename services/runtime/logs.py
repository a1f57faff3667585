"""The log lines of a service process (`LogSettings`, ``PHOTOMESH_LOG_``).

JSON (the default): one object per line, with the process name and, while a traced call or
event is being handled, its ``trace_id`` and ``span_id`` as Jaeger and the OTLP exporters
show them, so a line leads to its trace (both are null outside any span, and always null
when tracing is off: then there is no trace to lead to). A line of the driver's own threads
has no span either. ``text`` is the plain format, for a person at a terminal.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys

from opentelemetry import trace

from services.runtime.settings import LogSettings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Loggers that are chatty at INFO: warnings and above only.
QUIET = ("grpc",)


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object (keys below; ``exception`` when there is one)."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self._process = process

    def format(self, record: logging.LogRecord) -> str:
        context = trace.get_current_span().get_span_context()
        valid = context.is_valid
        entry: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "process": self._process,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": f"{context.trace_id:032x}" if valid else None,
            "span_id": f"{context.span_id:016x}" if valid else None,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(process: str, settings: LogSettings) -> None:
    """Send every logger's records to stderr in the configured format (replacing whatever
    was set up before)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process) if settings.format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # Python warnings and an uncaught exception become records too, not bare stderr text.
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: object) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)  # type: ignore[arg-type]
        return
    logging.getLogger("uncaught").critical("the process stops on an uncaught exception",
                                           exc_info=(kind, exc, tb))  # type: ignore[arg-type]
