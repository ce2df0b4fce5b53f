"""Case plans → files. A plan names a seed (a bundled model, a file made by ``driver --setup``) and the
mutations to apply; this module builds the bytes. It imports numpy and Pillow only (never kgn_gui), so the
hypothesis side and the driver share it, and a plan (JSON) is all a case needs to be rebuilt.

File specs in ``plan["files"]`` (paths relative to the case folder):

- ``{"p": PATH, "t": "bytes", "c": CONTENT}``: a regular file; CONTENT is a recipe (see :func:`content`)
- ``{"p": PATH, "t": "fifo"}``, ``{"t": "dir"}``, ``{"t": "symlink", "to": TARGET}``, ``{"t": "hardlink", "to": PATH}``
- ``{"p": PATH, "t": "bundle", "b": RECIPE}``: a run bundle folder, or a zip when PATH ends in ``.zip``
- ``{"p": PATH, "t": "images", "imgs": [...]}``: an image folder (see :func:`image_entry`)
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
DEAD_PID = 2_000_000_000  # above any Linux pid_max (2**22): never a running process
LIVE_PID = 1  # init: always running
CANARY = "PICKLE-EXECUTED"  # a pickle payload creates this file in the working folder if anything unpickles it
BOMB_BYTES = 128 << 20  # the zero bombs made by the setup: 128 MiB that deflate to ~128 kB


class Raw(str):
    """JSON text spliced in verbatim (documents json.dumps cannot make: deep nesting, 500 digits, bad JSON)."""


# Hostile JSON values for metadata fields, each with a short name for the case's label.
JSON_VALUES: list[tuple[str, object]] = [
    ("null", None),
    ("true", True),
    ("false", False),
    ("0", 0),
    ("1", 1),
    ("-1", -1),
    ("1.5", 1.5),
    ("2**63", 2**63),
    ("10**30", 10**30),
    ("-10**30", -(10**30)),
    ("NaN", math.nan),
    ("Infinity", math.inf),
    ("-Infinity", -math.inf),
    ("1e308", 1e308),
    ("5e-324", 5e-324),
    ("''", ""),
    ("'x'", "x"),
    ("'10'", "10"),
    ("'a\\nb'", "a\nb"),
    ("100k chars", "x" * 100_000),
    ("'\\u202e'", "\u202e"),
    ("[]", []),
    ("[1, 2]", [1, 2]),
    ("['a']", ["a"]),
    ("[null]", [None]),
    ("{}", {}),
    ("{'a': 1}", {"a": 1}),
    ("500 digits", Raw("9" * 500)),
    ("1e999", Raw("1e999")),
    ("deep 100", Raw("[" * 100 + "]" * 100)),
    ("deep 100k", Raw("[" * 100_000 + "]" * 100_000)),
    ("200k-item list", Raw("[" + ",".join(["0"] * 200_000) + "]")),
    ("bad JSON", Raw('[1, "')),
]
JSON_VALUE_NAMES = [n for n, _ in JSON_VALUES]
_JSON_VALUE = dict(JSON_VALUES)
DELETE = "<delete>"


def json_value(name: str):
    return _JSON_VALUE[name]


# ---------------------------------------------------------------- JSON documents with edits


def _set_path(obj, path: str, value, placeholders: list):
    """Set (or delete, value DELETE) ``path`` ("a.b.0") in the JSON object ``obj``; returns the new root. A
    Raw value is put in as a placeholder string, replaced in the text afterwards."""
    if isinstance(value, Raw):
        placeholders.append(value)
        value = f"\x00RAW{len(placeholders) - 1}\x00"
    if path == "":
        return value
    keys = path.split(".")
    node = obj
    for k in keys[:-1]:
        if isinstance(node, list) and k.isdigit() and int(k) < len(node):
            node = node[int(k)]
            continue
        if not isinstance(node, dict):
            return obj  # the path leads through a value that is no container: leave the document
        if not isinstance(node.get(k), (dict, list)):
            node[k] = {}
        node = node[k]
    last = keys[-1]
    if isinstance(node, list) and last.isdigit():
        i = int(last)
        if i < len(node):
            if value == DELETE:
                del node[i]
            else:
                node[i] = value
        return obj
    if isinstance(node, dict):
        if value == DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return obj


def edited_json(obj, edits) -> str:
    """``obj`` (parsed JSON) with ``edits`` [[path, value name or DELETE], ...] applied, as JSON text."""
    obj = json.loads(json.dumps(obj))
    placeholders: list[str] = []
    for path, vname in edits:
        value = DELETE if vname == DELETE else json_value(vname)
        obj = _set_path(obj, path, value, placeholders)
    text = json.dumps(obj, allow_nan=True)
    for i, raw in enumerate(placeholders):
        text = text.replace(json.dumps(f"\x00RAW{i}\x00"), raw)
    return text


# ---------------------------------------------------------------- byte mutations


def mutate_bytes(data: bytes, ops, head: int = 256, donors: list[bytes] | None = None) -> bytes:
    """Apply byte-level ``ops``: each [op, where, k, arg]; where is "head" (the first ``head`` bytes: a
    header), "any" or "tail"; k (0 … 65535) picks the position within it. "splice" inserts a piece of one of
    ``donors`` (other seed files) there."""
    b = bytearray(data)
    for op in ops:
        kind, where, k = op[0], op[1], op[2]
        arg = op[3] if len(op) > 3 else 0
        n = len(b)
        if where == "head":
            lo, hi = 0, max(1, min(n, head))
        elif where == "tail":
            lo, hi = max(0, n - 256), max(1, n)
        else:
            lo, hi = 0, max(1, n)
        pos = lo + (k * (hi - lo)) // 65536
        if kind == "flip" and n:
            b[min(pos, n - 1)] ^= (arg & 0xFF) or 0x01
        elif kind == "set" and n:  # one byte set to arg
            b[min(pos, n - 1)] = arg & 0xFF
        elif kind == "trunc":
            del b[pos:]
        elif kind == "cut":
            del b[pos : pos + (arg or 1)]
        elif kind == "dup":
            b[pos:pos] = b[pos : pos + (arg or 8)]
        elif kind == "ins":
            b[pos:pos] = bytes([arg & 0xFF]) * (1 + (arg >> 8))
        elif kind == "ff":  # a run of 0xff (lengths, counts become huge)
            b[pos : pos + 8] = b"\xff" * 8
        elif kind == "zero":
            b[pos : pos + (arg or 8)] = b"\x00" * len(b[pos : pos + (arg or 8)])
        elif kind == "splice" and donors:
            donor = donors[arg % len(donors)]
            start = (k * len(donor)) // 65536
            b[pos:pos] = donor[start : start + 16 + arg % 512]
        elif kind == "append":
            b += bytes((i * 37 + arg) & 0xFF for i in range(1 + arg % 300))
    return bytes(b)


# ---------------------------------------------------------------- safetensors


def split_safetensors(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def pack_safetensors(header_text: str, body: bytes, length: int | None = None) -> bytes:
    raw = header_text.encode("utf-8", "surrogatepass")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw) if length is None else length) + raw + body


SAFETENSORS_DTYPES = ["F64", "F16", "BF16", "I64", "I32", "U8", "BOOL", "F8_E4M3", "f32", "", "null", "1"]
TENSOR_SHAPES = [
    "[]",
    "[-1]",
    "[10**30]",
    "[2**62, 2**62]",
    '["3"]',
    "3",
    "[1.5]",
    "[0]",
    "[1, 10**12]",
    "swap",
    "+dim",
]
TENSOR_OFFSETS = ["[0, 10**30]", "[-8, 0]", "reversed", "[0]", '"x"', "[0.0, 4.0]", "+4", "shift", "[2**64, 2**64+4]"]
HEADER_LENGTHS = ["0", "1", "7", "n-1", "n+1", "size-8", "size", "2**63", "2**64-1", "16MiB+1"]


def _literal(text: str):
    return json.loads(
        text.replace("10**30", str(10**30))
        .replace("10**12", str(10**12))
        .replace("2**62", str(2**62))
        .replace("2**64+4", str(2**64 + 4))
        .replace("2**64", str(2**64))
    )


def safetensors_variant(seed: bytes, r: dict) -> bytes:
    """A model file from ``seed`` with structured edits: r["meta"] (metadata paths), r["hdr"] (tensor table
    ops), r["weights"] ([tensor index, "nan"|"inf"]), r["len"] (the header length field)."""
    header, body = split_safetensors(seed)
    md = header.get("__metadata__", {})
    meta = json.loads(md["kgn"])
    names = sorted(k for k in header if k != "__metadata__")
    body = bytearray(body)
    for idx, what in r.get("weights", []):
        info = header[names[idx % len(names)]]
        a, b = info["data_offsets"]
        val = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "big": 3e38}[what]
        body[a : a + 4] = struct.pack("<f", val)
    placeholders: list[str] = []
    header["__metadata__"] = {"kgn": edited_json(meta, r.get("meta", [])) if r.get("meta") else md["kgn"]}
    for op in r.get("hdr", []):
        kind = op[0]
        name = names[op[1] % len(names)] if len(op) > 1 and isinstance(op[1], int) else None
        if kind == "dtype":
            v = op[2]
            header[name]["dtype"] = None if v == "null" else (1 if v == "1" else v)
        elif kind == "shape":
            shp = list(header[name]["shape"])
            v = op[2]
            header[name]["shape"] = shp[::-1] if v == "swap" else (shp + [1] if v == "+dim" else _literal(v))
        elif kind == "offsets":
            a, b = header[name]["data_offsets"]
            v = op[2]
            header[name]["data_offsets"] = {"reversed": [b, a], "+4": [a, b + 4], "shift": [a + 1, b + 1]}.get(
                v
            ) or _literal(v)
        elif kind == "entry":
            header[name] = json_value(op[2]) if not isinstance(json_value(op[2]), Raw) else "x"
        elif kind == "drop":
            header.pop(name, None)
        elif kind == "rename":
            header[name + ".x"] = header.pop(name)
        elif kind == "add":
            header["extra.weight"] = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
        elif kind == "metadata":
            header["__metadata__"] = json_value(op[2])
        elif kind == "kgn":
            header["__metadata__"] = {"kgn": json_value(op[2])}
        elif kind == "whole":
            header = json_value(op[2])
    text = json.dumps(header, allow_nan=True)
    for i, raw in enumerate(placeholders):
        text = text.replace(json.dumps(f"\x00RAW{i}\x00"), raw)
    out = pack_safetensors(text, bytes(body))
    if r.get("len"):
        n = struct.unpack("<Q", out[:8])[0]
        size = len(out)
        length = {
            "0": 0,
            "1": 1,
            "7": 7,
            "n-1": n - 1,
            "n+1": n + 1,
            "size-8": size - 8,
            "size": size,
            "2**63": 2**63,
            "2**64-1": 2**64 - 1,
            "16MiB+1": (16 << 20) + 1,
        }[r["len"]]
        out = struct.pack("<Q", length) + out[8:]
    return out


# ---------------------------------------------------------------- .npy


NPY_DESCRS = [
    "<f4",
    "<f8",
    ">f4",
    "<f2",
    "|u1",
    "<i8",
    "<u2",
    "|i1",
    "|b1",
    "<c8",
    "<c16",
    "|O",
    "<M8[D]",
    "<m8[s]",
    "<U4",
    "|S4",
    "|V8",
    "[('a', '<f4'), ('b', '<i4')]",
    "('<f4', (2,))",
    "<f16",
]
NPY_SHAPES = [
    "(16, 8, 8)",
    "(6, 2)",
    "(16, 64)",
    "(4, 3, 8, 8)",
    "(4, 8, 8, 3)",
    "(4, 8, 8, 4)",
    "(4, 2, 8, 8)",
    "(4, 8, 8, 1)",
    "(0, 2)",
    "(2, 0)",
    "()",
    "(5,)",
    "(1, 1, 1, 1, 1)",
    "(1, 2)",
    "(1000000000000,)",
    "(1099511627776, 1099511627776)",
    "(2147483648, 8)",
    "(600000, 1000)",
    "(-1, 2)",
    "(2.5, 2)",
    "('a',)",
]
NPY_VALUES = ["unit", "signed", "pixels", "nan", "inf", "1e308", "-1e308", "zeros", "const", "random-bytes"]
NPY_BODIES = ["exact", "short", "long", "empty", "none"]
NPY_HEADERS = [
    "{'descr': '<f4', 'fortran_order': False}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}",
    "__import__('os').system('touch PICKLE-EXECUTED')",
    "{",
    "[1, 2]",
    "{'descr': '<f4', 'fortran_order': 'yes', 'shape': (3,)}",
    "{'descr': 5, 'fortran_order': False, 'shape': (3,)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': [3]}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}" + " " * 20_000,
    "{'descr': '\u00e9', 'fortran_order': False, 'shape': (3,)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "9" * 400 + ",)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': ((((((((((((((((((((((((((((((1,),),),),),),),),),),),),),),),),),),),),),),),),),),),),),)}",
]
PICKLE_PAYLOAD = b"cposix\nsystem\n(S'touch " + CANARY.encode() + b"'\ntR."


def npy_header_bytes(header_text: str, version=(1, 0)) -> bytes:
    raw = header_text.encode("latin1", "replace") if version[0] < 3 else header_text.encode("utf-8")
    magic = b"\x93NUMPY" + bytes(version)
    pre = len(magic) + (2 if version[0] == 1 else 4)
    pad = -(pre + len(raw) + 1) % 64
    raw = raw + b" " * pad + b"\n"
    length = struct.pack("<H", len(raw) & 0xFFFF) if version[0] == 1 else struct.pack("<I", len(raw))
    return magic + length + raw


def _values(kind: str, count: int, dtype: np.dtype, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    count = max(0, count)
    if kind == "random-bytes" or dtype.kind not in "biuf" or dtype.itemsize > 8 or dtype.names:
        return rng.integers(0, 256, count * dtype.itemsize, dtype=np.uint8).tobytes()
    if dtype.kind == "b":
        return rng.integers(0, 2, count).astype(dtype).tobytes()
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = {"pixels": (0, 255), "signed": (-5, 5), "unit": (0, 1)}.get(kind, (info.min, info.max))
        lo, hi = max(lo, info.min), min(hi, info.max)
        return rng.integers(lo, hi, count, endpoint=True, dtype=np.int64).astype(dtype).tobytes()
    v = {
        "unit": lambda: rng.random(count),
        "signed": lambda: rng.uniform(-1, 1, count),
        "pixels": lambda: rng.integers(0, 256, count).astype(float),
        "nan": lambda: np.where(rng.random(count) < 0.3, np.nan, rng.random(count)),
        "inf": lambda: np.where(rng.random(count) < 0.3, np.inf, rng.random(count)),
        "1e308": lambda: np.full(count, 1e308),
        "-1e308": lambda: np.linspace(-1e308, 1e308, count),
        "zeros": lambda: np.zeros(count),
        "const": lambda: np.full(count, 0.5),
    }[kind]()
    with np.errstate(over="ignore", invalid="ignore"):
        return v.astype(dtype).tobytes()


def npy_bytes(r: dict) -> bytes:
    """A .npy from r: descr, shape (text), fortran, version, values, body, header (a raw header text)."""
    version = tuple(r.get("version", (1, 0)))
    descr, shape_text = r.get("descr", "<f4"), r.get("shape", "(16, 8, 8)")
    if r.get("pickle"):
        return npy_header_bytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", (1, 0)) + PICKLE_PAYLOAD
    shown = descr if descr.startswith(("[", "(")) else repr(descr)
    fortran = bool(r.get("fortran", False))
    header = r.get("header") or f"{{'descr': {shown}, 'fortran_order': {fortran}, 'shape': {shape_text}, }}"
    head = npy_header_bytes(header, version)
    try:
        dtype = np.dtype(eval(descr) if descr.startswith(("[", "(")) else descr)  # noqa: S307 - our own literals
    except TypeError:
        dtype = np.dtype("<f4")
    try:
        shape = eval(shape_text)  # noqa: S307 - our own literals
        count = math.prod(shape) if all(isinstance(s, int) for s in shape) else 16
    except Exception:  # noqa: BLE001
        count = 16
    body_kind = r.get("body", "exact")
    exact = count * dtype.itemsize
    if exact > 4 << 20:  # a header that declares more than the file holds: a few bytes of data only
        body_kind = "none" if body_kind == "exact" else body_kind
        exact = 64
    data = _values(r.get("values", "unit"), exact // max(1, dtype.itemsize), dtype, r.get("seed", 0))
    data = {
        "exact": data,
        "short": data[: max(0, len(data) - 1 - len(data) // 3)],
        "long": data + b"\0" * 17,
        "empty": b"",
        "none": data[:64],
    }[body_kind]
    return head + data


# ---------------------------------------------------------------- zip


def raw_deflate(data: bytes, level: int = 6) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def deflate_then_bomb(head: bytes, bomb: bytes) -> bytes:
    """A raw deflate stream of ``head`` followed by the (raw deflate) zero bomb: one valid stream."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(head) + c.flush(zlib.Z_FULL_FLUSH) + bomb


def zip_bytes(
    members: list[dict], *, cd_size: int | None = None, count: int | None = None, comment: bytes = b""
) -> bytes:
    """A zip archive made by hand, so every field can lie. A member: name, data (its bytes), and optionally
    method (0 stored, 8 deflate, others as given), payload (the stored bytes, default made from data),
    usize / csize (declared sizes), crc, flags. Sizes ≥ 2**32 - 1 get a zip64 extra field."""
    out = bytearray()
    central = bytearray()
    for m in members:
        name = m["name"].encode("utf-8", "surrogateescape") if isinstance(m["name"], str) else m["name"]
        data = m.get("data", b"")
        method = m.get("method", 8)
        payload = m.get("payload")
        if payload is None:
            payload = raw_deflate(data) if method == 8 else data
        usize = m.get("usize", len(data))
        csize = m.get("csize", len(payload))
        crc = m.get("crc", zlib.crc32(data))
        flags = m.get("flags", 0x800 if not name.isascii() else 0)
        big = usize >= 0xFFFFFFFF or csize >= 0xFFFFFFFF
        extra = struct.pack("<HHQQ", 1, 16, usize % 2**64, csize % 2**64) if big else b""
        u32, c32 = (0xFFFFFFFF, 0xFFFFFFFF) if big else (usize, csize)
        off = len(out)
        out += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 45 if big else 20, flags, method, 0, 0x21, crc, c32, u32, len(name), len(extra)
        )
        out += name + extra + payload
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            45 if big else 20,
            flags,
            method,
            0,
            0x21,
            crc,
            c32,
            u32,
            len(name),
            len(extra),
            0,
            0,
            0,
            0o100644 << 16,
            off,
        )
        central += name + extra
    cd_off = len(out)
    out += central
    n = len(members) if count is None else count
    out += struct.pack(
        "<IHHHHIIH",
        0x06054B50,
        0,
        0,
        n & 0xFFFF,
        n & 0xFFFF,
        (len(central) if cd_size is None else cd_size) & 0xFFFFFFFF,
        cd_off,
        len(comment),
    )
    out += comment
    return bytes(out)


ZIP_MEMBER_HACKS = [
    "none",
    "usize-huge",
    "usize-4G",
    "usize-small",
    "csize-huge",
    "method-99",
    "method-12",
    "method-14",
    "method-9",
    "stored-mismatch",
    "encrypted",
    "bad-crc",
    "bomb-lying",
    "bomb-honest",
    "name-dotdot",
    "dir-entry",
    "duplicate",
]
ZIP_ARCHIVE_HACKS = [
    "none",
    "truncate-cd",
    "truncate-half",
    "cd-size-huge",
    "count-huge",
    "comment",
    "prefix-garbage",
    "no-eocd",
]


def zip_with_hacks(files: list[tuple[str, bytes]], member_hacks: dict, archive_hack: str, ctx) -> bytes:
    """Zip ``files`` [(name, bytes)], with ``member_hacks`` {name: hack} and one archive-level hack."""
    members = []
    for name, data in files:
        m = {"name": name, "data": data}
        hack = member_hacks.get(name, "none")
        if hack == "usize-huge":
            m["usize"] = 10**13
        elif hack == "usize-4G":
            m["usize"] = 0xFFFFFFFE
        elif hack == "usize-small":
            m["usize"] = max(0, len(data) // 2)
        elif hack == "csize-huge":
            m["csize"] = 0xFFFFFFF0
        elif hack.startswith("method-"):
            m["method"] = int(hack[7:])
            m["payload"] = raw_deflate(data)
        elif hack == "stored-mismatch":
            m["method"] = 0
            m["usize"] = len(data) + 1000
        elif hack == "encrypted":
            m["flags"] = 1
        elif hack == "bad-crc":
            m["crc"] = zlib.crc32(data) ^ 0x5A5A5A5A
        elif hack == "bomb-lying":  # declares its own size, inflates to 128 MiB more
            m["payload"] = deflate_then_bomb(data, ctx.bomb_deflate())
        elif hack == "bomb-honest":  # declares the 128 MiB it holds
            m["payload"] = deflate_then_bomb(data, ctx.bomb_deflate())
            m["usize"] = len(data) + BOMB_BYTES
            m["crc"] = 0
        elif hack == "name-dotdot":
            m["name"] = "../" + name
        elif hack == "dir-entry":
            m["name"] = name + "/"
            m["data"] = b""
            m["payload"] = b""
        elif hack == "duplicate":
            members.append({"name": name, "data": b"not this one"})
        members.append(m)
    kw = {}
    if archive_hack == "cd-size-huge":
        kw["cd_size"] = 0xFFFFFF00
    elif archive_hack == "count-huge":
        kw["count"] = 0xFFFF
    elif archive_hack == "comment":
        kw["comment"] = b"\x00" * 65535
    out = zip_bytes(members, **kw)
    if archive_hack == "truncate-cd":
        out = out[: len(out) - 30]
    elif archive_hack == "truncate-half":
        out = out[: len(out) // 2]
    elif archive_hack == "prefix-garbage":
        out = b"MZ" + b"\0" * 510 + out
    elif archive_hack == "no-eocd":
        out = out[:-22]
    return out


def npz_bytes(r: dict, ctx) -> bytes:
    """An .npz: r["members"] [[name, npy recipe]], r["hacks"] {name: member hack}, r["archive"]."""
    files = [(name, npy_bytes(rec)) for name, rec in r.get("members", [])]
    if r.get("many"):
        files += [(f"m{i}.npy", b"") for i in range(r["many"])]
    return zip_with_hacks(files, r.get("hacks", {}), r.get("archive", "none"), ctx)


# ---------------------------------------------------------------- IDX

IDX_CODES = [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0x0A, 0x0F, 0xFF]
_IDX_DT = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_DIMS = [
    [16, 8, 8],
    [16, 8, 8, 1],
    [16, 8, 8, 3],
    [16, 8, 8, 4],
    [16, 64],
    [16],
    [0, 8, 8],
    [4294967295, 4294967295, 4294967295],
    [1048576, 28, 28],
    [60000, 28, 28],
    [1, 1, 1],
    [16, 8, 8, 1, 1],
]
IDX_LABEL_KINDS = ["ok", "nan", "negative", "huge", "fraction", "short", "long-count", "2d", "none"]
GZ_KINDS = [
    "none",
    "gzip",
    "truncated",
    "corrupt",
    "multi-member",
    "bomb-lying",
    "bomb-declared",
    "not-gzip",
    "trailing-garbage",
]


def idx_bytes(r: dict, ctx) -> bytes:
    """An IDX file: r code, dims, ndim (override), magic (override bytes), body, values, gz."""
    code = r.get("code", 0x08)
    dims = r.get("dims", [16, 8, 8])
    ndim = r.get("ndim", len(dims))
    magic = bytes(r["magic"]) if "magic" in r else bytes([0, 0, code, ndim & 0xFF])
    head = magic + b"".join(struct.pack(">I", d & 0xFFFFFFFF) for d in dims)
    dt = np.dtype(_IDX_DT.get(code, ">u1"))
    count = math.prod(dims) if dims else 0
    exact = count * dt.itemsize
    kind = r.get("body", "exact")
    if exact > 4 << 20:
        kind, exact = "lie", 256
    vals = r.get("values", "pixels")
    if vals == "labels":
        data = (np.arange(count) % 4).astype(dt).tobytes()
    else:
        data = _values(vals, exact // dt.itemsize, dt, r.get("seed", 0))
    data = {"exact": data, "short": data[: len(data) // 2], "long": data + b"\x07" * 9, "empty": b"", "lie": data}[kind]
    raw = head + data
    gz = r.get("gz", "none")
    if gz == "none":
        return raw
    if gz == "not-gzip":
        return raw
    z = gzip.compress(raw, 6, mtime=0)
    if gz == "gzip":
        return z
    if gz == "truncated":
        return z[: max(10, len(z) * 2 // 3)]
    if gz == "corrupt":
        return mutate_bytes(z, [["flip", "any", 40000, 0x40], ["flip", "any", 50000, 0x04]])
    if gz == "multi-member":
        return gzip.compress(raw[: len(raw) // 2], mtime=0) + gzip.compress(raw[len(raw) // 2 :], mtime=0)
    if gz == "bomb-lying":  # the header's data, then 128 MiB of zeros more
        return z + ctx.bomb_gzip()
    if gz == "bomb-declared":  # a header that declares the whole bomb (within the byte budget)
        big = magic[:2] + bytes([0x08, 3]) + struct.pack(">III", BOMB_BYTES // 1024, 32, 32)
        return gzip.compress(big, mtime=0) + ctx.bomb_gzip()
    if gz == "trailing-garbage":
        return z + b"garbage\x00\x01"
    raise ValueError(gz)


def idx_labels(kind: str, n: int, ctx, gz: str = "none") -> bytes | None:
    if kind == "none":
        return None
    if kind == "ok":
        r = {"code": 0x08, "dims": [n], "values": "labels"}
    elif kind == "nan":
        r = {"code": 0x0D, "dims": [n], "values": "nan"}
    elif kind == "negative":
        r = {"code": 0x09, "dims": [n], "values": "signed"}
    elif kind == "huge":
        r = {"code": 0x0C, "dims": [n], "values": "random-bytes"}
    elif kind == "fraction":
        r = {"code": 0x0D, "dims": [n], "values": "unit"}
    elif kind == "short":
        r = {"code": 0x08, "dims": [max(1, n - 3)], "values": "labels"}
    elif kind == "long-count":
        r = {"code": 0x08, "dims": [n + 5], "values": "labels"}
    else:  # 2d
        r = {"code": 0x08, "dims": [n, 2], "values": "labels"}
    r["gz"] = gz
    return idx_bytes(r, ctx)


# ---------------------------------------------------------------- images

GOOD_IMAGES = ["png-L", "png-RGB", "jpeg", "bmp", "png16", "png-LA", "png-RGBA", "png-P-trns", "png-1bit"]
BAD_IMAGES = [
    "eps-as-png",
    "ps-as-jpg",
    "pdf-as-png",
    "gif-as-png",
    "tiff-F-out-of-range-as-png",
    "tiff-F-nan-as-png",
    "tiff-I32-as-png",
    "webp-as-bmp",
    "ico-as-png",
    "svg-as-png",
    "png16-rgb",
    "cmyk-jpeg",
    "truncated-png",
    "flipped-png",
    "flipped-jpeg",
    "huge-dims-png",
    "big-bomb-png",
    "huge-dims-bmp",
    "empty",
    "text",
    "random",
    "animated-gif-as-png",
    "psd-as-png",
    "npy-as-png",
]
SPECIAL_IMAGES = [
    "dir-named-png",
    "fifo-named-png",
    "link-devzero",
    "link-dangling",
    "link-loop",
    "link-good",
    "newline-name",
    "newline-damaged",
    "hidden",
    "not-image-suffix",
]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_raw(w: int, h: int, depth: int, ctype: int, rows: bytes) -> bytes:
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(rows, 9))
        + _png_chunk(b"IEND", b"")
    )


def _pixels(seed: int, shape=(8, 8)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _save(im, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n%%EndComments\n"
    b"newpath 0 0 moveto 8 8 lineto stroke\nshowpage\n%%EOF\n"
)


def image_bytes(kind: str, seed: int = 0, v: int = 0) -> bytes:
    """The bytes of one image-folder file of ``kind`` (GOOD_IMAGES, BAD_IMAGES)."""
    from PIL import Image

    px = _pixels(seed)
    if kind == "png-L":
        return _save(Image.fromarray(px, "L"), "PNG")
    if kind == "png-RGB":
        return _save(Image.fromarray(_pixels(seed, (8, 8, 3)), "RGB"), "PNG")
    if kind == "jpeg":
        return _save(Image.fromarray(_pixels(seed, (8, 8, 3)), "RGB"), "JPEG")
    if kind == "bmp":
        return _save(Image.fromarray(px, "L"), "BMP")
    if kind == "png16":  # a uniform 16-bit grey: v / 65535 once scaled
        return _png_raw(8, 8, 16, 0, b"".join(b"\x00" + struct.pack(">H", v) * 8 for _ in range(8)))
    if kind == "png-LA":
        return _save(Image.fromarray(np.stack([px, px], -1), "LA"), "PNG")
    if kind == "png-RGBA":
        return _save(Image.fromarray(_pixels(seed, (8, 8, 4)), "RGBA"), "PNG")
    if kind == "png-P-trns":
        im = Image.fromarray(px, "L").convert("P")
        return _save(im, "PNG", transparency=0)
    if kind == "png-1bit":
        return _save(Image.fromarray(px > 128), "PNG")
    if kind == "eps-as-png":
        return EPS
    if kind == "ps-as-jpg":
        return b"%!PS-Adobe-3.0\n%%BoundingBox: 0 0 8 8\n0 0 moveto 8 8 lineto stroke\nshowpage\n"
    if kind == "pdf-as-png":
        return _save(Image.fromarray(px, "L").convert("RGB"), "PDF")
    if kind == "gif-as-png":
        return _save(Image.fromarray(px, "L"), "GIF")
    if kind == "tiff-F-out-of-range-as-png":
        return _save(Image.fromarray((px.astype(np.float32) - 100.0) * 7.5, "F"), "TIFF")
    if kind == "tiff-F-nan-as-png":
        a = px.astype(np.float32) / 255
        a[0, 0] = np.nan
        return _save(Image.fromarray(a, "F"), "TIFF")
    if kind == "tiff-I32-as-png":
        return _save(Image.fromarray(px.astype(np.int32) * 100_000, "I"), "TIFF")
    if kind == "webp-as-bmp":
        return _save(Image.fromarray(_pixels(seed, (8, 8, 3)), "RGB"), "WEBP")
    if kind == "ico-as-png":
        return _save(Image.fromarray(_pixels(seed, (16, 16, 3)), "RGB"), "ICO")
    if kind == "svg-as-png":
        return b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>'
    if kind == "png16-rgb":
        return _png_raw(8, 8, 16, 2, b"".join(b"\x00" + struct.pack(">HHH", v, 65535 - v, 300) * 8 for _ in range(8)))
    if kind == "cmyk-jpeg":
        return _save(Image.fromarray(_pixels(seed, (8, 8, 4)), "CMYK"), "JPEG")
    if kind == "truncated-png":
        return image_bytes("png-L", seed)[:60]
    if kind == "flipped-png":
        return mutate_bytes(
            image_bytes("png-RGB", seed), [["flip", "any", (seed * 7919) % 65536, 0x55], ["flip", "head", 30000, 0x10]]
        )
    if kind == "flipped-jpeg":
        return mutate_bytes(
            image_bytes("jpeg", seed), [["flip", "any", (seed * 7919) % 65536, 0xFF], ["ff", "head", 20000]]
        )
    if kind == "huge-dims-png":  # the header declares 50,000 × 50,000; the data are a few bytes
        return (
            b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 50_000, 50_000, 8, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 100))
            + _png_chunk(b"IEND", b"")
        )
    if kind == "big-bomb-png":  # 6,000 × 6,000 real zero pixels in 35 kB (under the import's pixel cap)
        return _png_raw(6000, 6000, 8, 0, b"\x00" * (6001 * 6000))
    if kind == "huge-dims-bmp":
        bmp = bytearray(image_bytes("bmp", seed))
        struct.pack_into("<ii", bmp, 18, 100_000, -100_000)
        return bytes(bmp)
    if kind == "empty":
        return b""
    if kind == "text":
        return b"hello, this is not an image\n"
    if kind == "random":
        return bytes(_pixels(seed, (700,)))
    if kind == "animated-gif-as-png":
        frames = [Image.fromarray(_pixels(seed + i), "L") for i in range(3)]
        buf = io.BytesIO()
        frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
        return buf.getvalue()
    if kind == "psd-as-png":
        return b"8BPS\x00\x01" + b"\x00" * 6 + struct.pack(">HIIHH", 1, 8, 8, 8, 1) + b"\x00" * 64
    if kind == "npy-as-png":
        return npy_bytes({"shape": "(8, 8)"})
    raise ValueError(kind)


def image_folder(case: Path, folder: str, entries: list) -> None:
    """An image folder: entries [[relative name, kind, seed, v]]; kinds GOOD/BAD/SPECIAL_IMAGES."""
    base = case / folder
    base.mkdir(parents=True, exist_ok=True)
    for rel, kind, seed, v in entries:
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        kind = {
            "newline-name": "png-L",
            "newline-damaged": "truncated-png",
            "hidden": "png-L",
            "not-image-suffix": "text",
        }.get(kind, kind)
        if kind == "dir-named-png":
            p.mkdir(exist_ok=True)
        elif kind == "fifo-named-png":
            os.mkfifo(p)
        elif kind == "link-devzero":
            os.symlink("/dev/zero", p)
        elif kind == "link-dangling":
            os.symlink("no-such-file.png", p)
        elif kind == "link-loop":
            os.symlink(p.name, p)
        elif kind == "link-good":
            good = p.with_name("target-" + p.name)
            good.write_bytes(image_bytes("png-L", seed))
            os.symlink(good.name, p)
        else:
            p.write_bytes(image_bytes(kind, seed, v))


def image_name(kind: str, i: int) -> str:
    suffix = {
        "jpeg": ".jpg",
        "bmp": ".bmp",
        "ps-as-jpg": ".jpg",
        "webp-as-bmp": ".bmp",
        "cmyk-jpeg": ".jpeg",
        "flipped-jpeg": ".jpg",
        "huge-dims-bmp": ".bmp",
    }.get(kind, ".png")
    if kind in ("newline-name", "newline-damaged"):
        return f"bad\nname{i}.png"
    if kind == "hidden":
        return f".hidden{i}.png"
    if kind == "not-image-suffix":
        return f"notes{i}.txt"
    return f"{kind}-{i}{suffix}"


# ---------------------------------------------------------------- run bundles

BUNDLE_PATHS = [
    "",
    "format",
    "version",
    "chain",
    "chain.n",
    "chain.start",
    "chain.noise",
    "chain.eps",
    "chain.seed",
    "chain.sigma",
    "chain.mask",
    "chain.unknown",
    "steps",
    "steps.0",
    "export",
    "export.fmt",
    "export.fps",
    "export.scale",
    "export.overlay",
    "export.chain",
    "export.max_tiles",
    "export.grey",
    "export.unknown",
    "has_start",
]
BUNDLE_STEPS = [
    "[0]",
    "[0, 10000000]",
    "[10000001]",
    "[-1]",
    "[1.5]",
    '["3"]',
    "[true]",
    "100k steps",
    "200k steps",
    "[]",
    "[0, 0, 0]",
]
BUNDLE_TEXT = ["truncate", "not-utf8", "bom", "empty", "duplicate-keys", "deep", "long-number", "nul", "huge"]


def _bundle_steps(name: str):
    if name == "100k steps":
        return Raw("[" + ",".join(str(i) for i in range(100_000)) + "]")
    if name == "200k steps":
        return Raw("[" + ",".join("0" for _ in range(200_000)) + "]")
    return Raw(name)


def run_json_text(seed_text: str, r: dict) -> bytes:
    run = json.loads(seed_text)
    edits = list(r.get("edits", []))
    text = edited_json(run, edits) if edits else seed_text
    if r.get("steps"):
        obj = json.loads(text) if not edits else None
        if obj is None:
            try:
                obj = json.loads(text)
            except ValueError:
                obj = run
        placeholders: list[str] = []
        obj = _set_path(obj, "steps", _bundle_steps(r["steps"]), placeholders)
        text = json.dumps(obj, allow_nan=True)
        text = text.replace(json.dumps("\x00RAW0\x00"), placeholders[0])
    data = text.encode("utf-8")
    t = r.get("text")
    if t == "truncate":
        data = data[: len(data) // 2]
    elif t == "not-utf8":
        data = data.replace(b'"gif"', b'"\xff\xfe"', 1).replace(b'"format"', b'"form\xc0t"', 1)
    elif t == "bom":
        data = b"\xef\xbb\xbf" + data
    elif t == "empty":
        data = b""
    elif t == "duplicate-keys":
        data = data[:-1] + b', "chain": 5}'
    elif t == "deep":
        data = b"[" * 50_000 + b"]" * 50_000
    elif t == "long-number":
        data = data[:-1] + b', "x": ' + b"1" * 100_000 + b"}"
    elif t == "nul":
        data = data.replace(b'"', b'\x00"', 3)
    elif t == "huge":  # over the 4 MB cap
        data = data[:-1] + b', "pad": "' + b"x" * (5 << 20) + b'"}'
    return data


def bundle_entries(r: dict, ctx) -> dict:
    """The files of a bundle: {name: bytes | ("fifo",) | ("dir",) | ("symlink", target)} from the seed
    bundle r["seed"] with r's mutations: run (run.json), model (a safetensors recipe), start (an npy
    recipe), kinds {name: special}, drop [names]."""
    seed = ctx.seeds / r.get("seed", "bundle")
    files: dict = {}
    for p in sorted(seed.rglob("*")):
        if p.is_file():
            files[p.relative_to(seed).as_posix()] = p.read_bytes()
    if r.get("run"):
        files["run.json"] = run_json_text(files["run.json"].decode(), r["run"])
    if r.get("model"):
        files["model.safetensors"] = content(r["model"], ctx, default_seed_bytes=files["model.safetensors"])
    if r.get("start"):
        files["start.npy"] = npy_bytes(r["start"])
    for name in r.get("drop", []):
        files.pop(name, None)
    for name, special in r.get("kinds", {}).items():
        files[name] = tuple(special)
    return files


def write_bundle(case: Path, rel: str, r: dict, ctx) -> None:
    files = bundle_entries(r, ctx)
    target = case / rel
    if rel.endswith(".zip"):
        plain = [(n, b) for n, b in files.items() if isinstance(b, bytes)]
        target.write_bytes(zip_with_hacks(plain, r.get("zip_hacks", {}), r.get("zip_archive", "none"), ctx))
        return
    target.mkdir(parents=True)
    for name, b in files.items():
        p = target / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(b, bytes):
            p.write_bytes(b)
        elif b[0] == "fifo":
            os.mkfifo(p)
        elif b[0] == "dir":
            p.mkdir()
        elif b[0] == "symlink":
            os.symlink(b[1], p)


# ---------------------------------------------------------------- contents and file specs


def content(c: dict, ctx, default_seed_bytes: bytes | None = None) -> bytes:
    """The bytes of a content recipe: {"seed": NAME} (a seed file), {"st": …} (a model file variant),
    {"npy": …}, {"npz": …}, {"idx": …}, {"img": [kind, seed, v]}, {"text": "…"}; then c["muts"] (byte ops)."""
    if "st" in c:
        base = ctx.seed_bytes(c["st"]["seed"]) if c["st"].get("seed") else default_seed_bytes
        data = safetensors_variant(base, c["st"])
        head = 8 + struct.unpack("<Q", base[:8])[0]
    elif "seed" in c:
        data = ctx.seed_bytes(c["seed"])
        head = 8 + struct.unpack("<Q", data[:8])[0] if c["seed"].endswith(".safetensors") else 256
    elif "npy" in c:
        data, head = npy_bytes(c["npy"]), 128
    elif "npz" in c:
        data, head = npz_bytes(c["npz"], ctx), 128
    elif "idx" in c:
        data, head = idx_bytes(c["idx"], ctx), 32
    elif "img" in c:
        data, head = image_bytes(*c["img"]), 64
    elif "text" in c:
        data, head = c["text"].encode("utf-8", "surrogateescape"), 64
    elif "labels" in c:
        data, head = idx_labels(c["labels"][0], c["labels"][1], ctx, c["labels"][2]) or b"", 16
    elif default_seed_bytes is not None:
        data, head = default_seed_bytes, 256
    else:
        raise ValueError(f"unknown content recipe {c!r}")
    if c.get("muts"):
        data = mutate_bytes(data, c["muts"], head=head, donors=ctx.donors())
    return data


class Context:
    """Where seeds are, and the bombs (made once by the setup, read once per process)."""

    def __init__(self, seeds: Path):
        self.seeds = Path(seeds)
        self._cache: dict[str, bytes] = {}

    def seed_bytes(self, name: str) -> bytes:
        """A seed file: "model:NAME" (models/NAME.safetensors) or a path inside the seeds folder."""
        if name not in self._cache:
            path = MODELS / f"{name[6:]}.safetensors" if name.startswith("model:") else self.seeds / name
            self._cache[name] = path.read_bytes()
        return self._cache[name]

    def donors(self) -> list[bytes]:
        """Other seed files, pieces of which a "splice" mutation puts into a file."""
        return [
            self.seed_bytes(n)
            for n in ("model:1d-sigmoid", "img.safetensors", "tiny.npz", "tiny.npy", "recovery.safetensors")
        ]

    def bomb_deflate(self) -> bytes:
        return self.seed_bytes("zeros.deflate")

    def bomb_gzip(self) -> bytes:
        return self.seed_bytes("zeros.gz")


def make_file(case: Path, f: dict, ctx: Context) -> None:
    p = case / f["p"]
    p.parent.mkdir(parents=True, exist_ok=True)
    t = f["t"]
    if t == "bytes":
        p.write_bytes(content(f["c"], ctx))
    elif t == "fifo":
        os.mkfifo(p)
    elif t == "dir":
        p.mkdir(exist_ok=True)
    elif t == "symlink":
        os.symlink(f["to"], p)
    elif t == "hardlink":
        os.link(case / f["to"], p)
    elif t == "bundle":
        write_bundle(case, f["p"], f["b"], ctx)
    elif t == "images":
        image_folder(case, f["p"], f["imgs"])
    elif t == "many":  # a folder of n small files (junk that a scan must not choke on)
        p.mkdir(exist_ok=True)
        for i in range(f["n"]):
            (p / f"{f['prefix']}{i}{f['suffix']}").write_bytes(b"x")
    else:
        raise ValueError(f"unknown file spec {f!r}")


def materialize(plan: dict, case: Path, ctx: Context) -> None:
    case.mkdir(parents=True)
    for f in plan["files"]:
        make_file(case, f, ctx)


def make_bombs(seeds: Path) -> None:
    """The two zero bombs: raw deflate and gzip of BOMB_BYTES zeros (each ~128 kB)."""
    zeros = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    g = zlib.compressobj(9, zlib.DEFLATED, 31)
    d_parts, g_parts = [], []
    for _ in range(BOMB_BYTES >> 20):
        d_parts.append(c.compress(zeros))
        g_parts.append(g.compress(zeros))
    d_parts.append(c.flush())
    g_parts.append(g.flush())
    (seeds / "zeros.deflate").write_bytes(b"".join(d_parts))
    (seeds / "zeros.gz").write_bytes(b"".join(g_parts))
