"""Frames built once per push are the frames the WebSocket library itself would send."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from dashboard.protocol.frames import text_frame


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65_535, 65_536, 1_048_576])
def test_a_frame_is_the_unmasked_frame_of_rfc_6455(length: int) -> None:
    text = ("é" * (length // 2)) + ("x" * (length % 2))  # multi-byte UTF-8, so bytes != characters
    expected = Frame(Opcode.TEXT, text.encode("utf-8")).serialize(mask=False, extensions=[])
    assert text_frame(text) == expected


def test_the_same_text_object_is_framed_once() -> None:
    text = '{"type": "update", "seq": 1}' * 10
    assert text_frame(text) is text_frame(text)
