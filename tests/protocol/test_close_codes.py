"""The close codes are the contract's numbers (§4), and only the protocol's own go out as plain frames."""

from dashboard.protocol.close_codes import PROTOCOL_LEVEL, CloseCode


def test_each_close_code_is_the_contracts_number() -> None:
    assert {code.name: int(code) for code in CloseCode} == {
        "TOO_BIG": 1009,
        "TRY_AGAIN_LATER": 1013,
        "NOT_AUTHENTICATED": 4401,
        "FORBIDDEN": 4403,
        "TOKEN_EXPIRED": 4408,
        "TOO_MANY": 4429,
    }


def test_only_the_websocket_protocols_own_codes_are_protocol_level() -> None:
    assert all(1000 <= code < 3000 for code in PROTOCOL_LEVEL)
    assert all(code >= 4000 for code in set(CloseCode) - set(PROTOCOL_LEVEL))
