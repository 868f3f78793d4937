"""Password values are redacted from log records, whatever logger makes them."""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

import hypothesis
import hypothesis.strategies as st
import pytest
from reflex_base.event import Event

from signup_app.web import log_redaction

# The record factory is the process's, as in the app: installed once, for every test here.
log_redaction.install()

SECRET = "Sentinel 'quoted' \"kettle\" rain"


def test_redact_keeps_what_comes_before_the_password_and_drops_the_rest() -> None:
    """Fail closed: where a value ends is never parsed, so the fields after it go too."""
    clean = log_redaction.redact(repr({"name": "Ada", "password": SECRET, "email": "ada@example.com"}))
    assert clean == "{'name': 'Ada', 'password': [redacted]"


@pytest.mark.parametrize(
    "message",
    [
        # Reflex's messages that quote a whole client payload, whatever its shape.
        "Error transforming event argument 'form_data' with value "
        "'{'__reflex_form_data__': 'password=Sentinel-1'}' and type hint 'SignupForm'",
        "Received event from session abc with no associated token. Event data: {'payload': 'Sentinel-2'}",
        "Failed to deserialize event data: {'name': 1, 'payload': ['Sentinel-3']}.",
        "Event data must be a dictionary, but received ['Sentinel-4'] of type <class 'list'>.",
        "Error processing event queue entry for Event(name='state.nope', payload={'p': 'Sentinel-5'}, "
        "router_data={'token': 't'}) [txid=1]:",
        "{'PASSWORD': 'Sentinel-6'}",
    ],
)
def test_reflex_payload_messages_lose_their_data(message: str) -> None:
    clean = log_redaction.redact(message)
    assert "Sentinel" not in clean
    assert clean.split(" ")[0] == message.split(" ")[0]


def test_client_strings_cannot_forge_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("signup_app.test").warning("refused %r and %s", "a", "evil\nFAKE ERROR line\r\n")
        logging.getLogger("signup_app.test").warning("long %s", "x" * 5000)
    first, second = caplog.records
    assert "\n" not in first.getMessage() and "\\nFAKE ERROR line\\r\\n" in first.getMessage()
    assert len(second.getMessage()) < 400 and second.getMessage().endswith("…[cut]")


# --- Fail closed, whatever the key's form -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        repr({"form_data": {"name": "Ada", "password": SECRET}}),
        repr({"__reflex_form_data__": [["name", "Ada"], ["password", SECRET]]}),
        json.dumps({"payload": {"password": SECRET, "email": "a@b.c"}}),
        json.dumps(json.dumps({"password": SECRET})),  # JSON inside a JSON string
        repr({"password_hash": SECRET}),
        '{"password": "a\\"b Sentinel"}',  # an escaped quote inside the value
        json.dumps(json.dumps(json.dumps({"password": "Sentinel"}))),  # three levels of JSON in strings
        repr(repr({"password": "Sentinel"})),
        repr([["name", "Ada"], ["password", "Sentinel"]]),
        "{'password': b'Sentinel'}",  # not a str value
        "{'password': ['Sentinel']}",
        "{'new_password': 'Sentinel'}",
        "{'password'\n  :\n 'Sentinel'}",
        "SignupForm(name='Ada', password='Sentinel')",
        "name=Ada&password=Sentinel&email=a%40b.c",
        "{'password': '" + "\\" * 5000 + "Sentinel",
    ],
)
def test_everything_after_a_password_key_is_dropped(text: str) -> None:
    assert "Sentinel" in text
    clean = log_redaction.redact(text)
    assert "Sentinel" not in clean
    assert clean.endswith("[redacted]")


def test_text_without_a_password_key_is_kept() -> None:
    for text in ["password, email and name are required", "'password' must be text", "event value"]:
        assert log_redaction.redact(text) == text


def test_the_message_is_cut_before_it_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    redact = log_redaction.redact
    monkeypatch.setattr(log_redaction, "redact", lambda text: seen.append(len(text)) or redact(text))
    try:
        raise ValueError("Event data: " + "x" * 1_000_000)
    except ValueError as exc:
        record = make_record("payload %s" + "y" * 200_000, (), exc_info=(type(exc), exc, exc.__traceback__))
    assert len(seen) == 2 and max(seen) <= log_redaction.MAX_MESSAGE_CHARS + len(log_redaction.CUT)
    assert len(record.getMessage()) < 3 * log_redaction.MAX_MESSAGE_CHARS


def test_a_message_that_cannot_be_formatted_keeps_no_argument(caplog: pytest.LogCaptureFixture) -> None:
    """Logging's own error path prints msg and args as they are: the args are dropped first."""
    with caplog.at_level(logging.WARNING):
        logging.getLogger("signup_app.test").warning("bad format %d", {"password": SECRET})
    [record] = caplog.records
    assert record.args is None
    assert "Sentinel" not in logging.Formatter().format(record)
    assert record.getMessage().startswith("bad format %d [arguments dropped")


# --- Linear time ------------------------------------------------------------------------------------------

# Reflex's message for an event whose handler it cannot use, with the frame that froze a worker for days
# under the former pattern (each backslash could be matched two ways).
HOSTILE_NAME = '"password": "' + "\\" * 40
DEADLINE_S = 5.0


def make_record(
    msg: str, args: tuple[object, ...] | None = None, exc_info: logging._SysExcInfoType | None = None
) -> logging.LogRecord:
    """A record made by the installed factory, as a logger call makes it."""
    factory = logging.getLogRecordFactory()
    return factory(
        "reflex_base.event.processor.event_processor", logging.ERROR, __file__, 1, msg, args, exc_info
    )


def log_hostile_event(conn: Connection) -> None:
    """In a child process: log Reflex's error for the hostile event, and send back the formatted line."""
    log_redaction.install()
    event = Event(name=HOSTILE_NAME, payload={"password": SECRET})
    try:
        raise KeyError(HOSTILE_NAME)
    except KeyError as exc:
        record = make_record(
            f"Error processing event queue entry for {event} [txid=1]:",
            exc_info=(type(exc), exc, exc.__traceback__),
        )
    conn.send(logging.Formatter().format(record))


def test_the_hostile_frame_is_logged_in_a_moment() -> None:
    """Runs in a forked process, killed at the deadline: a regression fails here instead of hanging."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=log_hostile_event, args=(sender,), daemon=True)
    child.start()
    try:
        assert receiver.poll(DEADLINE_S), f"logging one hostile event took over {DEADLINE_S} s"
        line = receiver.recv()
    finally:
        child.kill()
        child.join()
    assert "Error processing event queue entry for Event(name=" in line
    assert "[redacted]" in line and "Sentinel" not in line


FRAGMENTS = [
    "\\",
    "\\" * 64,
    '"',
    "'",
    '\\"',
    "password",
    "PASSWORD",
    "password_hash",
    '"password": "',
    "'password': '",
    '\\"password\\": \\"',
    "password=",
    ": ",
    ", ",
    "{",
    "}",
    "[",
    "]",
    "\n",
    "with value '",
    "' and type hint",
    "Event data: ",
    "must be a dictionary, but received ",
    " of type <class ",
    "event queue entry for Event(name='",
    " [txid=",
    "İ",
    json.dumps(json.dumps({"password": "x", "name": "y"})),
]
pieces = st.sampled_from(FRAGMENTS) | st.text(max_size=6)
# A pattern of fragments, repeated: runs of backslashes, quotes or keys up to 64 KB.
adversarial = st.builds(
    lambda parts, times: "".join(parts) * times,
    st.lists(pieces, min_size=1, max_size=8),
    st.integers(min_value=1, max_value=8192),
).map(lambda text: text[: 64 * 1024])
sentinels = st.text("0123456789abcdef", min_size=24, max_size=24).map(lambda s: f"Sentinel{s}")

# How much more than a plain linear scan of the same text a record may cost (observed: at most about 6).
MAX_COST_RATIO = 20


def best_time(call: Callable[[], object]) -> float:
    """Seconds per call: the minimum over repeats of enough calls to last a millisecond or more."""
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            call()
        if (elapsed := time.perf_counter() - start) >= 1e-3:
            break
        loops *= 4
    best = elapsed
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(loops):
            call()
        best = min(best, time.perf_counter() - start)
    return best / loops


def plain_scan(text: str) -> None:
    """A record made by logging's own factory, and one pass over the text lowered."""
    logging.LogRecord("reflex", logging.ERROR, __file__, 1, text, None, None)
    lowered = text.lower()
    lowered.count("password")
    text.count('"')


@hypothesis.settings(max_examples=60, deadline=None, derandomize=True, database=None)
@hypothesis.given(text=adversarial)
def test_a_record_costs_a_small_multiple_of_a_linear_scan(text: str) -> None:
    baseline = best_time(lambda: plain_scan(text))
    cost = best_time(lambda: make_record(text))
    hypothesis.note(f"{len(text)} chars: {cost * 1e6:.1f} us, plain scan {baseline * 1e6:.1f} us")
    assert cost <= MAX_COST_RATIO * baseline


@pytest.mark.parametrize("size", [1024, 16 * 1024, 64 * 1024])
@pytest.mark.parametrize("run", ["\\", '"', "'", '"password": "\\', "password"])
def test_long_runs_cost_a_small_multiple_of_a_linear_scan(run: str, size: int) -> None:
    text = ('"password": "' + run * size)[:size]
    assert best_time(lambda: make_record(text)) <= MAX_COST_RATIO * best_time(lambda: plain_scan(text))


KEYED = [
    lambda key, value, junk: repr({"junk": junk, key: value, "after": junk}),
    lambda key, value, junk: json.dumps({"junk": junk, key: value}),
    lambda key, value, junk: json.dumps(json.dumps({"junk": junk, key: value})),
    lambda key, value, junk: repr([["junk", junk], [key, value]]),
    lambda key, value, junk: f"{junk}{{'{key}': '{value}{junk}",
    lambda key, value, junk: f'{junk}\\"{key}\\": \\"{junk[:3]}{value}',
    lambda key, value, junk: f"{junk}{key}={value}&{junk}",
]


@hypothesis.settings(max_examples=150, deadline=None, derandomize=True, database=None)
@hypothesis.given(
    shape=st.sampled_from(KEYED),
    key=st.sampled_from(["password", "PASSWORD", "Password", "password_hash", "new_password"]),
    sentinel=sentinels,
    junk=adversarial.map(lambda text: text[:2048]),
    how=st.sampled_from(["message", "argument", "exception"]),
)
def test_no_password_survives_the_record_factory(
    shape: Callable[[str, str, str], str], key: str, sentinel: str, junk: str, how: str
) -> None:
    text = shape(key, sentinel, junk)
    assert sentinel in text
    if how == "message":
        record = make_record(text)
    elif how == "argument":
        record = make_record("payload: %s (%r)", (text, text))
    else:
        try:
            raise ValueError(text)
        except ValueError as exc:
            record = make_record("failed", exc_info=(type(exc), exc, exc.__traceback__))
    assert sentinel not in record.getMessage()
    assert sentinel not in logging.Formatter().format(record)
