"""The interface between the WebSocket connection and its extensions (RFC 6455 section 9).

An extension negotiated in the opening handshake (permessage-deflate, RFC 7692)
sits between the frame parser and the message assembler:

* incoming data frames (text, binary and continuation, in the order they
  arrive) go through `Extension.decode` of each extension, in the *reverse*
  of the negotiated order, before their payload is reassembled;
* outgoing data frames go through `Extension.encode` of each extension, in
  the negotiated order, before they are serialized.

Control frames never go through an extension (RFC 7692 section 6.1 applies
compression to data messages only).

The RSV bits of a frame header are meaningful only when an extension
negotiated them (RFC 6455 section 5.2); an extension declares the bits it
may set in `rsv_bits` (a combination of `RSV1`, `RSV2`, `RSV3`), and the
parser fails the connection with 1002 on any other RSV bit.
"""

from __future__ import annotations

import abc

from .frames import Frame

__all__ = ["RSV1", "RSV2", "RSV3", "Extension"]

# Bits of the first header byte (RFC 6455 section 5.2).
RSV1 = 0x40
RSV2 = 0x20
RSV3 = 0x10


class Extension(abc.ABC):
    """A negotiated WebSocket extension that transforms data frames.

    Instances hold per-connection state (a compression context, say), so
    each connection gets its own.
    """

    #: The extension token, as in Sec-WebSocket-Extensions ("permessage-deflate").
    name: str = ""

    #: The RSV bits (RSV1 | RSV2 | RSV3) this extension may set on frames it receives.
    rsv_bits: int = 0

    @abc.abstractmethod
    def decode(self, frame: Frame, *, max_size: int | None) -> Frame:
        """Undo the extension on one received data frame.

        Called for every text, binary and continuation frame, in order.
        `max_size` is the budget left for the message being assembled (bytes
        of decoded payload still allowed; None for no limit): an extension
        that inflates must stop and raise `MessageTooBig` as soon as its
        output would exceed it, without producing the whole output first.
        May raise `WebSocketProtocolError` (1002) for frames it cannot
        accept, e.g. RSV1 on a continuation frame.
        """

    @abc.abstractmethod
    def encode(self, frame: Frame) -> Frame:
        """Apply the extension to one outgoing data frame (text, binary or continuation)."""
