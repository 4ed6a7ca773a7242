"""The HTTP request cycle's states: the tables are whole, and the keep-alive rule for unread bodies.

The cycle's behaviour over real sockets is in test_http.py; this holds the
tables themselves to the diagram in `asgiws.server.cycle_state`.
"""

from __future__ import annotations

import pytest

from asgiws.server.cycle_state import (
    MAX_DISCARDED_BODY,
    REQUEST_TRANSITIONS,
    RESPONSE_TRANSITIONS,
    CycleStep,
    RequestState,
    ResponseState,
    reusable_with_unread_body,
)


def reachable(table: dict, starts: set) -> set:
    reached, frontier = set(starts), list(starts)
    while frontier:
        for target in table[frontier.pop()].values():
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    return reached


def test_every_request_state_is_in_the_table_and_reachable() -> None:
    assert set(REQUEST_TRANSITIONS) == set(RequestState)
    assert reachable(REQUEST_TRANSITIONS, {RequestState.BODY}) == set(RequestState)
    # The client can go away whatever the request's state, and going away is final.
    for state, moves in REQUEST_TRANSITIONS.items():
        assert moves[CycleStep.DISCONNECT] is RequestState.GONE, state
    assert REQUEST_TRANSITIONS[RequestState.GONE] == {CycleStep.DISCONNECT: RequestState.GONE}


def test_every_response_state_is_in_the_table_and_reachable() -> None:
    assert set(RESPONSE_TRANSITIONS) == set(ResponseState)
    starts = {ResponseState.CONTINUE_OWED, ResponseState.START}
    assert reachable(RESPONSE_TRANSITIONS, starts) == set(ResponseState)
    assert RESPONSE_TRANSITIONS[ResponseState.COMPLETE] == {}
    # The server's send() takes the START move from either state without asking which.
    starts_from = [moves[CycleStep.START] for moves in RESPONSE_TRANSITIONS.values() if CycleStep.START in moves]
    assert starts_from == [ResponseState.BODY, ResponseState.BODY]
    # 100 Continue is owed only before the response starts.
    assert {state for state, moves in RESPONSE_TRANSITIONS.items() if CycleStep.CONTINUE in moves} == {
        ResponseState.CONTINUE_OWED
    }


@pytest.mark.parametrize(
    ("response", "body_left", "reusable"),
    [
        (ResponseState.START, 0, True),
        (ResponseState.START, MAX_DISCARDED_BODY, True),
        (ResponseState.START, MAX_DISCARDED_BODY + 1, False),
        (ResponseState.START, None, False),  # chunked: how much is left is unknown
        (ResponseState.CONTINUE_OWED, 4, False),  # the client waits for a 100 Continue it will not get
    ],
)
def test_reusable_with_unread_body(response: ResponseState, body_left: int | None, reusable: bool) -> None:
    assert reusable_with_unread_body(response, body_left) is reusable
