"""The states of one HTTP request cycle, and every move between them.

A cycle (`http.RequestResponseCycle`) is two conversations at once, each
with its own state, as h11 keeps one per role:

- the request, from the client to the app (`RequestState`)::

      BODY --END_OF_BODY--> RECEIVED --DELIVER--> DELIVERED
        any state --DISCONNECT--> GONE

- the response, from the app to the client (`ResponseState`)::

      CONTINUE_OWED --CONTINUE--> START --START--> BODY --END--> COMPLETE
      CONTINUE_OWED --START--> BODY;  CONTINUE_OWED, START --FAIL--> COMPLETE

`REQUEST_TRANSITIONS` and `RESPONSE_TRANSITIONS` are the only places states
change; a step missing from them is a bug in the server (KeyError), never
the peer's or the app's doing (those are checked before a step is taken).
Whether the connection carries another request afterwards (keep-alive) is
a flag beside the states, as in h11; the one rule that ties it to them,
for a response sent before its request's body, is `reusable_with_unread_body`.
"""

from __future__ import annotations

import enum

__all__ = [
    "RequestState",
    "ResponseState",
    "CycleStep",
    "REQUEST_TRANSITIONS",
    "RESPONSE_TRANSITIONS",
    "MAX_DISCARDED_BODY",
    "reusable_with_unread_body",
]


class RequestState(enum.IntEnum):
    """How far the request has come, from the client to the app.

    An IntEnum, as the parser's states: an int's hash keeps table lookups cheap.
    """

    BODY = 0  # the body is still arriving: the parser has not seen its end
    RECEIVED = 1  # the parser saw the end; the app has not received the last part
    DELIVERED = 2  # the app received the last part (``more_body`` False)
    GONE = 3  # the connection was lost or broken, or the client half-closed after its request


class ResponseState(enum.IntEnum):
    """How far the response has gone, from the app to the client."""

    CONTINUE_OWED = 0  # ``Expect: 100-continue``, nothing sent: the app's first receive() sends 100 Continue
    START = 1  # waiting for ``http.response.start``
    BODY = 2  # the head is written (or waits for the first body part); body parts follow
    COMPLETE = 3  # the whole response is written (the app's, or the server's 500 in its place)


class CycleStep(enum.IntEnum):
    """What happened, moving one side of the cycle to its next state."""

    END_OF_BODY = 0  # the parser read the end of the request body
    DELIVER = 1  # the app received the last part of the body
    DISCONNECT = 2  # connection lost, request rejected mid-way, or EOF after the request
    CONTINUE = 3  # 100 Continue was written
    START = 4  # the app sent ``http.response.start``
    END = 5  # the app sent the last ``http.response.body``
    FAIL = 6  # the server answered 500 for an app that sent no response


_Q, _R, _STEP = RequestState, ResponseState, CycleStep

REQUEST_TRANSITIONS: dict[RequestState, dict[CycleStep, RequestState]] = {
    _Q.BODY: {_STEP.END_OF_BODY: _Q.RECEIVED, _STEP.DISCONNECT: _Q.GONE},
    _Q.RECEIVED: {_STEP.DELIVER: _Q.DELIVERED, _STEP.DISCONNECT: _Q.GONE},
    _Q.DELIVERED: {_STEP.DISCONNECT: _Q.GONE},
    _Q.GONE: {_STEP.DISCONNECT: _Q.GONE},
}

RESPONSE_TRANSITIONS: dict[ResponseState, dict[CycleStep, ResponseState]] = {
    _R.CONTINUE_OWED: {_STEP.CONTINUE: _R.START, _STEP.START: _R.BODY, _STEP.FAIL: _R.COMPLETE},
    _R.START: {_STEP.START: _R.BODY, _STEP.FAIL: _R.COMPLETE},
    _R.BODY: {_STEP.END: _R.COMPLETE},
    _R.COMPLETE: {},
}

#: The most request body the server reads and drops, after a response the
#: app sent without reading it, to keep the connection (Tomcat swallows up
#: to 2 MiB for the same reason: a client still sending its body when the
#: server closes gets a reset and may lose the response).
MAX_DISCARDED_BODY = 1 << 20


def reusable_with_unread_body(response: ResponseState, body_left: int | None) -> bool:
    """Whether a response starting before its request's body has all arrived may keep the connection.

    Only when the client is sending that body (it is not waiting for a 100
    Continue it will now never get, RFC 9110 section 10.1.1) and what is
    left of it is known and at most `MAX_DISCARDED_BODY`: the server then
    reads and drops the rest after the response (RFC 9112 section 9.6).
    Otherwise the response says ``connection: close``, so that the client
    does not send its next request on a connection being closed.
    """
    return response is not ResponseState.CONTINUE_OWED and body_left is not None and body_left <= MAX_DISCARDED_BODY
