"""Keeps passwords out of log lines, including Reflex's own.

Reflex logs whole event payloads when it cannot use one (an unknown handler, a
malformed event, an argument it cannot convert). A record factory rewrites each
record before any handler formats it: the message is first cut to a bounded
length, then the payload in those Reflex messages is dropped whole, and
everything after a "password" key (in repr, JSON or keyword form) is dropped:
redaction fails closed rather than parse where a value ends. Every step is a
str.find or a pattern in which each character can be matched one way only, so
its cost is linear in the (cut) message, whatever a client sends. String
arguments (client data in our own log calls) have their line breaks escaped, so
a client cannot forge log lines, and are cut to a bounded length. Each record
also carries the correlation id of the event or request being handled
(`correlation_id`).
"""

from __future__ import annotations

import logging
import re
import string

from reflex_base.utils.log import JsonHandler

from signup_app.web import correlation

# A key ending in "password" or "password_hash", matched on lower-cased text: quoted (repr, JSON, or JSON
# escaped inside a string) and followed by ":" (mapping) or "," (form entry), or followed by "=" (keyword
# repr, urlencoded form). No two parts can match the same character and the repeats are possessive, so a
# search never backtracks: linear time.
_SECRET_KEY = re.compile(r"""password(?:_hash)?(?:=|\\*+['"]\s*+[:,])""")
# The name of an Event that Reflex quotes, as repr writes it: the closing quote is the first unescaped one.
_QUOTED = {q: re.compile(rf"{q}(?:[^{q}\\]++|\\.)*+{q}", re.DOTALL) for q in "'\""}
# Reflex messages that quote a client's event or payload: keep the words, drop the data. Each pair is the
# text just before the data and the text just after it (None: the data runs to the end of the message).
# The data may hold either marker, so the end is the LAST one after the start; no end found drops the rest.
_REFLEX_PAYLOADS: list[tuple[str, str | None]] = [
    ("with value '", "' and type hint"),
    ("Event data: ", None),
    ("Failed to deserialize event data: ", None),
    ("must be a dictionary, but received ", " of type <class "),
]
_EVENT_ENTRY = "event queue entry for Event(name="
_TXID = "[txid="
REDACTED = "[redacted]"
_HINTS = ("password", "event", "value")
# Lower-cases ASCII only, keeping every index: for the rare text whose str.lower() changes length.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)

# Longest string argument, and longest message (and exception text), kept in a log line.
MAX_ARG_CHARS = 300
MAX_MESSAGE_CHARS = 10_000
CUT = "…[cut]"

_installed = False


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + CUT


def _clean_arg(value: object) -> object:
    """A log argument with line breaks escaped and its length bounded (cut first: escaping costs)."""
    if not isinstance(value, str):
        return value
    escaped = value[: MAX_ARG_CHARS + 1].replace("\r", "\\r").replace("\n", "\\n")
    if len(value) > MAX_ARG_CHARS or len(escaped) > MAX_ARG_CHARS:
        return escaped[:MAX_ARG_CHARS] + CUT
    return escaped


def _drop_payload(text: str, before: str, after: str | None) -> str:
    """Replace the data between `before` and the last `after` (or the end) with REDACTED."""
    start = text.find(before)
    if start < 0:
        return text
    start += len(before)
    end = text.rfind(after, start) if after is not None else -1
    return text[:start] + REDACTED + (text[end:] if end >= 0 else "")


def _drop_event_entry(text: str) -> str:
    """Keep the event's name in Reflex's queue-entry error, drop the rest of the event up to `[txid=`."""
    start = text.find(_EVENT_ENTRY)
    if start < 0:
        return text
    start += len(_EVENT_ENTRY)
    quoted = _QUOTED.get(text[start : start + 1])
    name = quoted.match(text, start) if quoted else None
    if name is None:
        return text[:start] + REDACTED
    end = text.rfind(_TXID, name.end())
    return text[: name.end()] + ", ...)" + (" " + text[end:] if end >= 0 else REDACTED)


def _drop_secrets(text: str, lowered: str) -> str:
    """Drop everything after the first password key: a value's end is never parsed."""
    if len(lowered) != len(text):  # e.g. "İ" lower-cases to two characters
        lowered = text.translate(_ASCII_LOWER)
    key = _SECRET_KEY.search(lowered)
    if key is None:
        return text
    return text[: key.end()] + ("" if lowered[key.end() - 1] == "=" else " ") + REDACTED


def redact(text: str) -> str:
    """Drop client payloads quoted by Reflex, and everything after a password key. Linear time."""
    lowered = text.lower()
    if not any(hint in lowered for hint in _HINTS):
        return text
    dropped = text
    for before, after in _REFLEX_PAYLOADS:
        dropped = _drop_payload(dropped, before, after)
    dropped = _drop_event_entry(dropped)
    if dropped is not text:
        lowered = dropped.lower()
    return _drop_secrets(dropped, lowered)


def install() -> None:
    """Redact every log record made from now on in this process (idempotent)."""
    global _installed  # noqa: PLW0603  (one flag for the process: installing twice would redact twice)
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.correlation_id = correlation.current()
        if isinstance(record.args, tuple):
            record.args = tuple(_clean_arg(arg) for arg in record.args)
        try:
            message = record.getMessage()
            unformatted = False
        except Exception as exc:  # noqa: BLE001  (whatever formatting raises, the record must survive)
            # Logging's own error path would print msg and args unredacted: keep the format string only.
            template = record.msg if isinstance(record.msg, str) else "[a log message of another type]"
            message = f"{template} [arguments dropped: {type(exc).__name__} while formatting]"
            unformatted = True
        clean = redact(_cut(message, MAX_MESSAGE_CHARS))
        if unformatted or clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks carry exception messages, which may quote the payload.
            trace = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(_cut(trace, MAX_MESSAGE_CHARS))
            if record.exc_text != trace:
                # Some handlers format exc_info themselves: fold the clean text into the message.
                record.msg, record.args = f"{record.getMessage()}\n{record.exc_text}", None
                record.exc_info, record.exc_text = None, None
        return record

    logging.setLogRecordFactory(redacting_record)
    # The app's own records go through Reflex's sinks (rich console, or JSON lines
    # with REFLEX_LOG_JSON=1), which then also show each record's correlation id.
    logging.getLogger("signup_app").parent = logging.getLogger("reflex")
    # Reflex types the list as its own field names; the JSON sink writes any record attribute listed.
    extra_fields: list[str] = list(JsonHandler.extra_fields)
    if "correlation_id" not in extra_fields:
        JsonHandler.extra_fields = (*extra_fields, "correlation_id")  # pyright: ignore[reportAttributeAccessIssue]
