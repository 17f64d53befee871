"""Reading image files for ``folder:DIR`` datasets without a hard dependency on Pillow.

PNG (8-bit, any colour type, non-interlaced) and binary/ASCII PNM (PGM, PPM)
are decoded here with zlib and numpy; other formats (JPEG, BMP, ...) use
Pillow when it is installed, otherwise the error names the file and says to
``pip install pillow``. ``to_shape`` converts the channel count and resizes
(bilinear, antialiased) to the project's input.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from graph.errors import UserError


def read_image(path: str | Path) -> torch.Tensor:
    """uint8 (C, H, W), C in 1, 2, 3 or 4."""
    p = Path(path)
    data = p.read_bytes()
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            arr = decode_png(data)
        elif data[:2] in (b"P5", b"P6", b"P2", b"P3"):
            arr = decode_pnm(data)
        else:
            arr = _pillow(p)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the file's problem
        raise UserError(f"cannot read image {p}: {exc}") from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def _pillow(p: Path) -> np.ndarray:
    try:
        from PIL import Image
    except ImportError:
        raise UserError(
            f"cannot read {p}: {p.suffix or 'this format'} needs Pillow (pip install pillow); "
            f"PNG and PPM/PGM files are read without it"
        ) from None
    with Image.open(p) as im:
        if im.mode not in ("L", "RGB", "RGBA", "LA"):
            im = im.convert("RGB")
        return np.asarray(im)


def decode_pnm(data: bytes) -> np.ndarray:
    magic = data[:2]
    tokens: list[bytes] = []
    pos = 2
    while len(tokens) < 3:
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        start = pos
        while not data[pos : pos + 1].isspace():
            pos += 1
        tokens.append(data[start:pos])
    w, h, maxval = (int(t) for t in tokens)
    channels = 3 if magic in (b"P6", b"P3") else 1
    if magic in (b"P5", b"P6"):
        pos += 1
        dt = np.uint8 if maxval < 256 else np.dtype(">u2")
        arr = np.frombuffer(data, dtype=dt, count=w * h * channels, offset=pos).astype(np.float64)
    else:
        arr = np.array(data[pos:].split()[: w * h * channels], dtype=np.float64)
    arr = np.round(arr * (255.0 / maxval)).astype(np.uint8)
    return arr.reshape(h, w, channels) if channels == 3 else arr.reshape(h, w)


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def decode_png(data: bytes) -> np.ndarray:
    header, palette, trns, idat = _png_chunks(data)
    w, h, depth, ctype, interlace = header
    if w is None or ctype not in _PNG_CHANNELS:
        raise ValueError("not a valid PNG (no IHDR)")
    if depth != 8 or interlace:
        raise ValueError(
            f"only 8-bit non-interlaced PNG is read without Pillow (this one: {depth}-bit"
            f"{', interlaced' if interlace else ''}); install Pillow or re-save the image"
        )
    ch = _PNG_CHANNELS[ctype]
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    stride = w * ch
    raw = raw[: h * (stride + 1)].reshape(h, stride + 1)
    out = np.zeros((h, stride), dtype=np.int32)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        cur = _unfilter_line(raw[y, 0], raw[y, 1:].astype(np.int32), prev, ch)
        out[y] = cur
        prev = cur
    img = out.astype(np.uint8).reshape(h, w, ch)
    if ctype == 3:
        return _apply_palette(img, palette, trns)
    return img


def _png_chunks(data: bytes) -> tuple[tuple, np.ndarray | None, bytes | None, list[bytes]]:
    """The chunks up to IEND: IHDR's (width, height, bit depth, colour type, interlace), all None
    without one; the PLTE palette as (N, 3) and the tRNS body (None where absent); the IDAT bodies."""
    pos = 8
    idat = []
    palette = None
    trns = None
    w = h = depth = ctype = interlace = None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
        elif kind == b"tRNS":
            trns = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    return (w, h, depth, ctype, interlace), palette, trns, idat


def _unfilter_line(f: int, line: np.ndarray, prev: np.ndarray, ch: int) -> np.ndarray:
    """One scanline with its PNG filter ``f`` undone (None, Sub, Up, Average, Paeth), given the
    previous unfiltered line ``prev`` and ``ch`` bytes per pixel."""
    stride = len(prev)
    if f == 0:
        return line
    if f == 1:
        cur = line.copy()
        for x in range(ch, stride):
            cur[x] = (cur[x] + cur[x - ch]) & 255
        return cur
    if f == 2:
        return (line + prev) & 255
    if f == 3:
        cur = line.copy()
        for x in range(stride):
            left = cur[x - ch] if x >= ch else 0
            cur[x] = (cur[x] + ((left + prev[x]) >> 1)) & 255
        return cur
    if f == 4:
        cur = line.copy()
        for x in range(stride):
            a = cur[x - ch] if x >= ch else 0
            b = prev[x]
            c = prev[x - ch] if x >= ch else 0
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (cur[x] + pred) & 255
        return cur
    raise ValueError(f"bad PNG filter type {f}")


def _apply_palette(img: np.ndarray, palette: np.ndarray | None, trns: bytes | None) -> np.ndarray:
    """A palette image's indices (H, W, 1) as RGB, or RGBA where a tRNS chunk gives alpha."""
    if palette is None:
        raise ValueError("palette PNG without a palette")
    rgb = palette[img[:, :, 0]]
    if trns is not None:
        alpha = np.full(len(palette), 255, dtype=np.uint8)
        alpha[: len(trns)] = np.frombuffer(trns, dtype=np.uint8)
        return np.concatenate([rgb, alpha[img[:, :, 0]][:, :, None]], axis=2)
    return rgb


def to_shape(img: torch.Tensor, shape) -> torch.Tensor:
    """uint8 (C, H, W) -> uint8 of the project's (C, H, W): alpha dropped, gray<->RGB, resized."""
    c, h, w = (int(v) for v in shape)
    if img.shape[0] in (2, 4):  # drop alpha
        img = img[:-1]
    if img.shape[0] == 1 and c == 3:
        img = img.expand(3, -1, -1)
    elif img.shape[0] == 3 and c == 1:
        wts = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
        img = (img.float() * wts).sum(0, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    elif img.shape[0] != c:
        raise UserError(
            f"cannot convert a {img.shape[0]}-channel image to the project's {c} channels; "
            f"set --input 3,H,W or 1,H,W"
        )
    if tuple(img.shape[1:]) != (h, w):
        f = torch.nn.functional.interpolate(
            img.unsqueeze(0).float(), size=(h, w), mode="bilinear", align_corners=False, antialias=True
        )
        img = f.squeeze(0).round().clamp(0, 255).to(torch.uint8)
    return img.contiguous()
