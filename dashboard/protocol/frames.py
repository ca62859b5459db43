"""WebSocket text frames built once per message, for the same push written to many sockets.

A frame from server to client is not masked (RFC 6455 §5.1), so the frame of a given text is
the same bytes for every client. The hub hands each push's one text object to every local
connection in turn; the servers' protocols (dashboard/realtime/daphne_protocol.py and
uvicorn_server.py) write `text_frame(text)` to each socket instead of encoding and framing
the text again per socket. The cache holds the last few texts, found by the identity of the
text object first, so each push is framed once per process.
"""

from __future__ import annotations

from functools import lru_cache

FIN_TEXT = 0x81  # FIN bit and opcode 1 (text): a whole message in one frame
_LENGTH_16 = 126
_LENGTH_64 = 127


@lru_cache(maxsize=16)
def text_frame(text: str) -> bytes:
    payload = text.encode("utf-8")
    length = len(payload)
    if length < _LENGTH_16:
        header = bytes((FIN_TEXT, length))
    elif length < 1 << 16:
        header = bytes((FIN_TEXT, _LENGTH_16)) + length.to_bytes(2, "big")
    else:
        header = bytes((FIN_TEXT, _LENGTH_64)) + length.to_bytes(8, "big")
    return header + payload
