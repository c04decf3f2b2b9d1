"""TCP option list codec: RFC 9293 sections 3.1 and 3.2 (MUST-4, MUST-5, MUST-6, MUST-7,
MUST-64, MUST-68, MUST-69)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire_helpers import option_lists, raw_option

from synack.wire import (
    EOL,
    NOP,
    SACK_PERMITTED,
    EndOfOptions,
    MalformedPacket,
    MaxSegmentSize,
    NoOperation,
    Sack,
    SackPermitted,
    Timestamps,
    UnknownOption,
    WindowScale,
    encode_options,
    options_length,
    parse_options,
)

LINUX_SYN = bytes.fromhex("020405b40402080a000003e80000000001030307")
LINUX_SYN_OPTIONS = (
    MaxSegmentSize(1460),
    SackPermitted(),
    Timestamps(1000, 0),
    NoOperation(),
    WindowScale(7),
)


def test_linux_syn_options() -> None:
    assert parse_options(LINUX_SYN) == LINUX_SYN_OPTIONS
    assert encode_options(LINUX_SYN_OPTIONS) == LINUX_SYN


def test_nop_nop_timestamps_fast_path() -> None:
    data = bytes.fromhex("0101080a0000000100000002")
    assert parse_options(data) == (NOP, NOP, Timestamps(1, 2))
    assert parse_options(memoryview(data)) == (NOP, NOP, Timestamps(1, 2))
    assert encode_options((NOP, NOP, Timestamps(1, 2))) == data


def test_sack_blocks() -> None:
    data = bytes.fromhex("0101" + "0512" + "00000001" + "00000064" + "000000c8" + "0000012c")
    assert parse_options(data) == (NOP, NOP, Sack(((1, 100), (200, 300))))
    assert encode_options((NOP, NOP, Sack(((1, 100), (200, 300))))) == data


def test_empty() -> None:
    assert parse_options(b"") == ()
    assert encode_options(()) == b""
    assert options_length(()) == 0


def test_padding_is_zeros_and_reads_back_as_eol() -> None:
    # MUST-69: the header beyond the EOL is zero padding.
    assert encode_options((MaxSegmentSize(536), WindowScale(2))) == bytes.fromhex(
        "0204021803030200"
    )
    assert parse_options(bytes.fromhex("0204021803030200")) == (
        MaxSegmentSize(536),
        WindowScale(2),
        EOL,
    )
    assert encode_options((NOP,)) == b"\x01\x00\x00\x00"
    assert encode_options((MaxSegmentSize(1), EOL)) == bytes.fromhex("0204000100000000")
    assert options_length((MaxSegmentSize(1), EOL)) == 8


def test_option_may_start_on_any_octet() -> None:
    # MUST-64: no alignment is assumed.
    data = bytes.fromhex("01020405b4030307080a0000000100000002")
    assert parse_options(data) == (
        NOP,
        MaxSegmentSize(1460),
        WindowScale(7),
        Timestamps(1, 2),
    )


def test_eol_ends_parsing_and_garbage_after_it_is_ignored() -> None:
    data = bytes.fromhex("020405b400ff01ffee")
    assert parse_options(data) == (MaxSegmentSize(1460), EOL)
    assert parse_options(b"\x00\x02\x00") == (EOL,)  # a bad length after EOL is not looked at


def test_unknown_option_is_kept_and_skipped_by_its_length() -> None:
    # MUST-5/MUST-6: an option we do not implement is ignored without error.
    data = bytes.fromhex("fe06abcdef01" + "020405b4" + "0101")
    assert parse_options(data) == (
        UnknownOption(254, bytes.fromhex("abcdef01")),
        MaxSegmentSize(1460),
        NOP,
        NOP,
    )
    assert encode_options(parse_options(data)) == data
    assert parse_options(b"\x1e\x02") == (UnknownOption(30, b""),)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x02", "no length octet"),
        (b"\x01\x01\x01\xfe", "no length octet"),
        (b"\x02\x00\x05\xb4", "length 0"),
        (b"\xfe\x00\x00\x00", "unknown kind, length 0"),
        (b"\xfe\x01\x00\x00", "length 1"),
        (b"\x02\x05\x05\xb4", "past the end"),
        (b"\xfe\x08\x01\x02", "unknown kind past the end"),
        (b"\x02\x03\x05\x00", "MSS length 3"),
        (b"\x02\x06\x05\xb4\x00\x00", "MSS length 6"),
        (b"\x03\x04\x07\x00", "window scale length 4"),
        (b"\x03\x02\x00\x00", "window scale length 2"),
        (b"\x04\x03\x00\x00", "SACK-permitted length 3"),
        (b"\x08\x08" + bytes(8), "timestamps length 8"),
        (b"\x08\x0b" + bytes(10), "timestamps length 11"),
        (b"\x05\x02\x00\x00", "SACK with no blocks"),
        (b"\x05\x06" + bytes(6), "SACK length 6"),
        (b"\x05\x0b" + bytes(10), "SACK length 11"),
        (b"\x05\x12" + bytes(8), "SACK past the end"),
    ],
)
def test_illegal_length_raises_bad_option_length(data: bytes, why: str) -> None:
    # MUST-7: an illegal option length is handled (the segment is dropped), not a crash.
    with pytest.raises(MalformedPacket) as info:
        parse_options(data)
    assert info.value.reason == "bad-option-length", why


@given(option_lists())
def test_round_trip(options: tuple[object, ...]) -> None:
    encoded = encode_options(options)  # type: ignore[arg-type]
    assert len(encoded) % 4 == 0
    assert len(encoded) <= 40
    assert parse_options(encoded) == options


@given(st.binary(max_size=40))
def test_random_bytes_parse_or_raise_malformed(data: bytes) -> None:
    try:
        options = parse_options(data)
    except MalformedPacket as exc:
        assert exc.reason == "bad-option-length"
    else:
        # Re-encoding what parsed gives back the octets parsing consumed: all of
        # them, or those up to and including the EOL.
        consumed = b"".join(raw_option(option) for option in options)
        if EOL in options:
            assert data.startswith(consumed)
        else:
            assert consumed == data


def test_encode_rejects_caller_bugs() -> None:
    with pytest.raises(ValueError):
        encode_options((MaxSegmentSize(65536),))
    with pytest.raises(ValueError):
        encode_options((WindowScale(-1),))
    with pytest.raises(ValueError):
        encode_options((Timestamps(2**32, 0),))
    with pytest.raises(ValueError):
        encode_options((Sack(()),))
    with pytest.raises(ValueError):
        encode_options((Sack(((1, 2, 3),)),))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        encode_options((UnknownOption(1, b"x"),))
    with pytest.raises(ValueError):
        encode_options((UnknownOption(300, b""),))
    with pytest.raises(ValueError):
        encode_options((Timestamps(0, 0),) * 4 + (NOP,))  # 41 octets
    with pytest.raises(TypeError):
        encode_options(("mss",))  # type: ignore[arg-type]
    # Exactly 40 octets fit.
    assert len(encode_options((Timestamps(0, 0),) * 4)) == 40


def test_unknown_option_can_carry_a_deliberately_bad_known_kind() -> None:
    # Useful for tests that send a peer an MSS option of illegal length.
    encoded = encode_options((UnknownOption(2, b"\x05"),))
    assert encoded == b"\x02\x03\x05\x00"
    with pytest.raises(MalformedPacket):
        parse_options(encoded)


def test_shared_instances_equal_fresh_ones() -> None:
    assert NoOperation() == NOP
    assert EndOfOptions() == EOL
    assert SackPermitted() == SACK_PERMITTED
