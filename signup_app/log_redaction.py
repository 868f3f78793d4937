"""Keeps passwords out of log lines, including Reflex's own.

Reflex logs whole event payloads when it cannot use one (an unknown handler, a
malformed event, an argument it cannot convert). A record factory redacts any
value that follows a "password" key, in repr or JSON form, before a handler
formats the record.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# A quoted "password" or "password_hash" key, then ":" (mapping) or "," (form entry), then a quoted value.
_SECRET_VALUE = re.compile(
    r"""(?P<key>(?P<kq>\\?['"])password(?:_hash)?(?P=kq)\s*[:,]\s*)"""
    r"""(?P<q>\\?['"])(?:\\.|(?!(?P=q)).)*?(?P=q)""",
    re.DOTALL,
)
REDACTED = "'[redacted]'"
_KEY_HINT = "password"

_installed = False


def redact(text: str) -> str:
    """Replace every password value in text."""
    if _KEY_HINT not in text:
        return text
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
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error path
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks carry exception messages, which may quote the payload.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(redacting_record)
