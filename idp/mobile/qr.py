"""The QR code of a challenge link as a PNG image, in well under a millisecond.

``qrcode`` lays the symbol out. Three of its steps cost about 7 ms in pure Python and are
done otherwise here:

- the mask: it tries all eight and scores each; every reader accepts any of them, so one is
  fixed. ``MASK`` is the one its scoring picks most often for our links (a random hex id
  after the issuer), and the lowest scored on average;
- the error-correction codewords: the same Reed-Solomon code as its polynomial objects, with
  log tables (a test holds them equal to ``qrcode``'s own);
- the PNG: at 8 pixels per module each module is exactly one byte of a 1-bit image, so the
  rows are written as they are.
"""

from __future__ import annotations

import struct
import sys
import zlib
from functools import cache


def _without_pillow():  # type: ignore[no-untyped-def]
    """``qrcode`` with its Pillow drawers left out: the package imports them, when Pillow is
    installed (for idp-mobile and the tests), only to offer them to its own callers, and
    falls back quietly when it cannot (``qrcode.image.styles.moduledrawers``). This module
    lays the symbol out and writes the PNG itself, so a worker need not hold Pillow's 5 MB
    (tests/mobile/test_qr_image.py). Where Pillow is already loaded, nothing changes."""
    blocked = "PIL" not in sys.modules
    if blocked:
        sys.modules["PIL"] = None  # type: ignore[assignment]  # import PIL raises ImportError
    try:
        import qrcode
        import qrcode.base
    finally:
        if blocked:
            del sys.modules["PIL"]
    return qrcode


_qrcode = _without_pillow()
QRCode, constants, rs_blocks = _qrcode.QRCode, _qrcode.constants, _qrcode.base.rs_blocks

ERROR_CORRECTION = constants.ERROR_CORRECT_M
MASK = 2
BORDER = 4  # modules of quiet zone around the symbol, as the standard asks
BOX = 8  # pixels per module: one byte of a 1-bit image
_BYTE_MODE = 0b0100
_PADDING = b"\xec\x11"
# Arithmetic in GF(256) modulo x^8 + x^4 + x^3 + x^2 + 1, as QR codes use it.
_EXP = [0] * 510
_LOG = [0] * 256
_value = 1
for _power in range(255):
    _EXP[_power] = _EXP[_power + 255] = _value
    _LOG[_value] = _power
    _value = (_value << 1) ^ (0x11D if _value & 0x80 else 0)


@cache
def _generator_logs(ec_count: int) -> tuple[int, ...]:
    """The logs of the generator polynomial's coefficients after its leading 1."""
    poly = [1]
    for power in range(ec_count):  # times (x - 2**power)
        product = [*poly, 0]
        for index, coefficient in enumerate(poly):
            if coefficient:
                product[index + 1] ^= _EXP[_LOG[coefficient] + power]
        poly = product
    return tuple(_LOG[coefficient] for coefficient in poly[1:])


def _error_correction(block: bytes, ec_count: int) -> list[int]:
    generator = _generator_logs(ec_count)
    remainder = [0] * ec_count
    for byte in block:
        factor = byte ^ remainder[0]
        remainder = [*remainder[1:], 0]
        if factor:
            shift = _LOG[factor]
            remainder = [r ^ _EXP[shift + g] for r, g in zip(remainder, generator, strict=True)]
    return remainder


@cache
def version_for(length: int) -> int:
    """The smallest version that holds ``length`` bytes at our error-correction level."""
    for version in range(1, 41):
        capacity = sum(block.data_count for block in rs_blocks(version, ERROR_CORRECTION))
        if 4 + _count_bits(version) + 8 * length <= 8 * capacity:
            return version
    raise ValueError(f"{length} bytes do not fit in a QR code")


def _count_bits(version: int) -> int:
    return 8 if version < 10 else 16


def codewords(data: bytes, version: int) -> list[int]:
    """The symbol's codewords for ``data`` in byte mode: the data blocks, then their
    error-correction blocks, interleaved as the standard places them."""
    blocks = rs_blocks(version, ERROR_CORRECTION)
    capacity = sum(block.data_count for block in blocks)
    count_bits = _count_bits(version)
    bits = (_BYTE_MODE << count_bits | len(data)) << 8 * len(data) | int.from_bytes(data, "big")
    length = 4 + count_bits + 8 * len(data)
    shift = min(4, 8 * capacity - length)  # the terminator: up to four zero bits
    shift += -(length + shift) % 8  # then zero bits to the byte boundary
    words = (bits << shift).to_bytes((length + shift) // 8, "big")
    words += (_PADDING * capacity)[:capacity - len(words)]
    data_blocks, ec_blocks, offset = [], [], 0
    for block in blocks:
        data_blocks.append(words[offset:offset + block.data_count])
        ec_blocks.append(_error_correction(data_blocks[-1], block.total_count - block.data_count))
        offset += block.data_count
    return [*_interleave(data_blocks), *_interleave(ec_blocks)]


def _interleave(blocks: list) -> list[int]:  # type: ignore[type-arg]
    longest = max(len(block) for block in blocks)
    return [block[i] for i in range(longest) for block in blocks if i < len(block)]


def modules(text: str) -> list[list[bool]]:
    """The symbol's modules (True: dark), quiet zone included."""
    data = text.encode()
    symbol = QRCode(version=version_for(len(data)), error_correction=ERROR_CORRECTION,
                    border=BORDER, mask_pattern=MASK)
    symbol.data_cache = codewords(data, symbol.version)
    symbol.makeImpl(False, MASK)
    return symbol.get_matrix()


_PIXELS = bytes.maketrans(b"\x00\x01", b"\xff\x00")  # light: 8 white pixels; dark: 8 black


def png(text: str) -> bytes:
    """A black-on-white PNG of the QR code of ``text``, ``BOX`` pixels per module."""
    rows = modules(text)
    side = len(rows) * BOX
    scanlines = b"".join((b"\x00" + bytes(row).translate(_PIXELS)) * BOX for row in rows)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    # The fastest level: under a kilobyte all the same, in a sixth of the default's time.
    body = zlib.compress(scanlines, 1)
    return b"".join([b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header), _chunk(b"IDAT", body),
                     _chunk(b"IEND", b"")])


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
