"""The MEP protocol, sans-I/O: bytes in, frames and events out (h11-style).

Nothing here touches a clock, a port or a socket; the drivers and the session feed it bytes and
timeouts. tests/protocol/test_purity.py keeps it that way.
"""

from mepd.protocol.codes import RequestCode, ResponseCode, basic_table, extended_table
from mepd.protocol.digest import Digest, digest
from mepd.protocol.exchange import Complete, Exchange, RetryBudget, Send
from mepd.protocol.frames import (
    MAX_MESSAGE_BYTES,
    MAX_READ_COUNT,
    FullRead,
    FullWrite,
    PartialRead,
    PartialWrite,
    ReceivedRequest,
    Request,
    Response,
    SignedRequest,
    encode_response,
    receive_request,
    sign_request,
    verify_response,
)
from mepd.protocol.keys import KeyId, MepKey, parse_key
from mepd.protocol.rc4 import Rc4Exchange
from mepd.protocol.sequence import SequenceCounter
from mepd.protocol.stream import Alert, Discarded, Frame, FrameDecoder

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_READ_COUNT",
    "Alert",
    "Complete",
    "Digest",
    "Discarded",
    "Exchange",
    "Frame",
    "FrameDecoder",
    "FullRead",
    "FullWrite",
    "KeyId",
    "MepKey",
    "PartialRead",
    "PartialWrite",
    "Rc4Exchange",
    "ReceivedRequest",
    "Request",
    "RequestCode",
    "Response",
    "ResponseCode",
    "RetryBudget",
    "Send",
    "SequenceCounter",
    "SignedRequest",
    "basic_table",
    "digest",
    "encode_response",
    "extended_table",
    "parse_key",
    "receive_request",
    "sign_request",
    "verify_response",
]
