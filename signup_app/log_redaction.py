"""Keeps passwords out of log lines, including Reflex's own.

Reflex logs whole event payloads when it cannot use one (an unknown handler, a
malformed event, an argument it cannot convert). A record factory rewrites each
record before any handler formats it: the payload in those Reflex messages is
dropped whole, and anywhere else a value that follows a "password" key, in repr
or JSON form, is replaced. String arguments (client data in our own log calls)
have their line breaks escaped, so a client cannot forge log lines, and every
value and message is cut to a bounded length. Each record also carries the
correlation id of the event or request being handled (`correlation_id`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from reflex_base.utils.log import JsonHandler

from signup_app import correlation

# A quoted "password" or "password_hash" key, then ":" (mapping) or "," (form entry), then a quoted value.
_SECRET_VALUE = re.compile(
    r"""(?P<key>(?P<kq>\\?['"])password(?:_hash)?(?P=kq)\s*[:,]\s*)"""
    r"""(?P<q>\\?['"])(?:\\.|(?!(?P=q)).)*?(?P=q)""",
    re.DOTALL | re.IGNORECASE,
)
# Reflex messages that quote a client's event or payload: keep the words, drop the data.
_REFLEX_PAYLOADS = [
    (re.compile(r"(with value ').*?(' and type hint)", re.DOTALL), r"\1[redacted]\2"),
    (re.compile(r"((?:Event data|Failed to deserialize event data): ).*"), r"\1[redacted]"),
    (re.compile(r"(must be a dictionary, but received ).*?( of type)", re.DOTALL), r"\1[redacted]\2"),
    (
        re.compile(r"(event queue entry for Event\(name=(['\"]).*?\2).*?(\s*\[txid=)", re.DOTALL),
        r"\1, ...)\3",
    ),
]
REDACTED = "'[redacted]'"
_HINTS = ("password", "event", "value")

# Longest string argument, and longest message, kept in a log line.
MAX_ARG_CHARS = 300
MAX_MESSAGE_CHARS = 10_000

_installed = False


def _clean_arg(value: object) -> object:
    """A log argument with line breaks escaped and its length bounded."""
    if not isinstance(value, str):
        return value
    value = value.replace("\r", "\\r").replace("\n", "\\n")
    return value if len(value) <= MAX_ARG_CHARS else value[:MAX_ARG_CHARS] + "…[cut]"


def redact(text: str) -> str:
    """Drop client payloads quoted by Reflex, and replace every password value."""
    lowered = text.lower()
    if not any(hint in lowered for hint in _HINTS):
        return text
    for pattern, replacement in _REFLEX_PAYLOADS:
        text = pattern.sub(replacement, text)
    return _SECRET_VALUE.sub(lambda m: m.group("key") + REDACTED, text)


def install() -> None:
    """Redact every log record made from now on in this process (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.correlation_id = correlation.current()
        if isinstance(record.args, tuple):
            record.args = tuple(_clean_arg(arg) for arg in record.args)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error path
            return record
        clean = redact(message)
        if len(clean) > MAX_MESSAGE_CHARS:
            clean = clean[:MAX_MESSAGE_CHARS] + "…[cut]"
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks carry exception messages, which may quote the payload.
            trace = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(trace)
            if record.exc_text != trace:
                # Some handlers format exc_info themselves: fold the clean text into the message.
                record.msg, record.args = f"{record.getMessage()}\n{record.exc_text}", None
                record.exc_info, record.exc_text = None, None
        return record

    logging.setLogRecordFactory(redacting_record)
    # The app's own records go through Reflex's sinks (rich console, or JSON lines
    # with REFLEX_LOG_JSON=1), which then also show each record's correlation id.
    logging.getLogger("signup_app").parent = logging.getLogger("reflex")
    if "correlation_id" not in JsonHandler.extra_fields:
        JsonHandler.extra_fields = (*JsonHandler.extra_fields, "correlation_id")
