#!/usr/bin/env python3
"""Generates deterministic Crypto Bet chain fixtures, encoded through the IDL.

A small Python model of the Crypto Bet program (initialize_config,
create_market, place_bet, update_oracle, resolve_market, cancel_market,
claim_winnings, claim_refund) runs a scenario chosen from --seed and writes
what a Solana RPC node would answer about it, in the exact wire formats:

  rpc.jsonl      recorded JSON-RPC request/response pairs (fixtures/README.md)
  ws.jsonl       the same history as a websocket notification stream
  accounts.json  final state of every program account (pubkey -> account)
  expected.json  the table rows a complete sync must produce
  README.md      what happens in this scenario

Every account, instruction and event is Borsh-encoded from the field lists in
idl/crypto_bet.json; nothing about the layouts is hard-coded here except the
maximum string lengths (Anchor `space`) that the IDL cannot express.

Usage:
  tools/gen-fixtures.py --out fixtures/chain --sig-page-limit 50
  tools/gen-fixtures.py --out fixtures/chain-small --markets 2 --wallets 3 --bets 5
  tools/gen-fixtures.py --verify fixtures/chain

Standard library only.
"""

import argparse
import base64
import copy
import hashlib
import json
import os
import struct
import sys

# --------------------------------------------------------------------------
# base58 (Bitcoin alphabet)

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
B58_INDEX = {c: i for i, c in enumerate(B58_ALPHABET)}
_B58_CACHE = {}


def b58encode(data):
    data = bytes(data)
    cached = _B58_CACHE.get(data)
    if cached is not None:
        return cached
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(B58_ALPHABET[r])
    pad = len(data) - len(data.lstrip(b"\0"))
    s = "1" * pad + "".join(reversed(out))
    if len(data) in (32, 64):
        _B58_CACHE[data] = s
    return s


def b58decode(s):
    n = 0
    for c in s:
        if c not in B58_INDEX:
            raise ValueError("invalid base58 character %r" % c)
        n = n * 58 + B58_INDEX[c]
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(s) - len(s.lstrip("1"))
    return b"\0" * pad + body


def b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8") if isinstance(p, str) else p)
    return h.digest()


def dumps(obj):
    """Compact JSON, UTF-8 kept as is (the wire carries raw UTF-8)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------
# Deterministic pseudo-random numbers (sha256 counter mode: stable across
# Python versions, unlike the random module's less common methods).

class Rng:
    def __init__(self, seed):
        self.key = sha256("rng", seed)
        self.ctr = 0

    def u64(self):
        self.ctr += 1
        return int.from_bytes(sha256(self.key, self.ctr.to_bytes(8, "little"))[:8], "little")

    def below(self, n):
        return self.u64() % n

    def between(self, lo, hi):
        """Uniform integer in [lo, hi]."""
        return lo + self.below(hi - lo + 1)

    def chance(self, p):
        return self.u64() < int(p * (1 << 64))

    def choice(self, seq):
        return seq[self.below(len(seq))]

    def shuffle(self, seq):
        for i in range(len(seq) - 1, 0, -1):
            j = self.below(i + 1)
            seq[i], seq[j] = seq[j], seq[i]

    def log_uniform(self, lo, hi):
        """Integer roughly log-uniform in [lo, hi] (no floats in the output)."""
        steps = 1000
        k = self.below(steps + 1)
        # lo * (hi/lo)^(k/steps) evaluated with float only for the exponent,
        # rounded to an integer; deterministic for the same Python float.
        v = int(round(lo * (hi / lo) ** (k / steps)))
        return max(lo, min(hi, v))


# --------------------------------------------------------------------------
# IDL-driven Borsh codec

INT_FORMATS = {"u8": "<B", "i8": "<b", "u16": "<H", "i16": "<h", "u32": "<I",
               "i32": "<i", "u64": "<Q", "i64": "<q", "f32": "<f", "f64": "<d"}
WIDE_INTS = {"u128": (16, False), "i128": (16, True)}
EMIT_CPI_TAG = bytes.fromhex("e445a52e51cb9a1d")


class IdlError(Exception):
    pass


class Idl:
    """Anchor 0.30+ IDL: encodes and decodes values by walking its type tree.

    Value conventions: pubkey = 32 bytes; string = str; bool; ints; option =
    None or the value; fixed u8 array = bytes; other arrays/vecs = lists;
    unit enum = variant name; struct = dict keyed by IDL field name."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        self.address = doc["address"]
        self.types = {t["name"]: t["type"] for t in doc.get("types", [])}
        self.account_disc = {a["name"]: bytes(a["discriminator"]) for a in doc["accounts"]}
        self.event_disc = {e["name"]: bytes(e["discriminator"]) for e in doc["events"]}
        self.instructions = {i["name"]: i for i in doc["instructions"]}
        self.ix_disc = {n: bytes(i["discriminator"]) for n, i in self.instructions.items()}
        self.disc_to_account = {v: k for k, v in self.account_disc.items()}
        self.disc_to_event = {v: k for k, v in self.event_disc.items()}
        self.disc_to_ix = {v: k for k, v in self.ix_disc.items()}

    @staticmethod
    def _defined_name(ty):
        d = ty["defined"]
        return d["name"] if isinstance(d, dict) else d

    def fields(self, name):
        t = self.types[name]
        if t["kind"] != "struct":
            raise IdlError("%s is not a struct" % name)
        return t["fields"]

    def enum_variants(self, name):
        t = self.types[name]
        if t["kind"] != "enum":
            raise IdlError("%s is not an enum" % name)
        return [v["name"] for v in t["variants"]]

    # ---- encoding
    def enc(self, ty, v, out, path="value"):
        if isinstance(ty, str):
            if ty in INT_FORMATS:
                if isinstance(v, bool) or not isinstance(v, int):
                    raise IdlError("%s: %s expects an int, got %r" % (path, ty, v))
                out += struct.pack(INT_FORMATS[ty], v)
            elif ty in WIDE_INTS:
                size, signed = WIDE_INTS[ty]
                out += int(v).to_bytes(size, "little", signed=signed)
            elif ty == "bool":
                if not isinstance(v, bool):
                    raise IdlError("%s: bool expected, got %r" % (path, v))
                out.append(1 if v else 0)
            elif ty == "string":
                raw = v.encode("utf-8")
                out += struct.pack("<I", len(raw)) + raw
            elif ty == "pubkey":
                if not isinstance(v, (bytes, bytearray)) or len(v) != 32:
                    raise IdlError("%s: pubkey must be 32 bytes" % path)
                out += v
            elif ty == "bytes":
                out += struct.pack("<I", len(v)) + bytes(v)
            else:
                raise IdlError("%s: unsupported type %s" % (path, ty))
        elif "option" in ty:
            if v is None:
                out.append(0)
            else:
                out.append(1)
                self.enc(ty["option"], v, out, path)
        elif "array" in ty:
            inner, n = ty["array"]
            if inner == "u8" and isinstance(v, (bytes, bytearray)):
                if len(v) != n:
                    raise IdlError("%s: [u8; %d] got %d bytes" % (path, n, len(v)))
                out += v
            else:
                if len(v) != n:
                    raise IdlError("%s: array length %d != %d" % (path, len(v), n))
                for i, x in enumerate(v):
                    self.enc(inner, x, out, "%s[%d]" % (path, i))
        elif "vec" in ty:
            out += struct.pack("<I", len(v))
            for i, x in enumerate(v):
                self.enc(ty["vec"], x, out, "%s[%d]" % (path, i))
        elif "defined" in ty:
            self.enc_defined(self._defined_name(ty), v, out, path)
        else:
            raise IdlError("%s: unsupported type %r" % (path, ty))

    def enc_defined(self, name, v, out, path=None):
        path = path or name
        t = self.types[name]
        if t["kind"] == "struct":
            for f in t["fields"]:
                if f["name"] not in v:
                    raise IdlError("%s.%s missing" % (path, f["name"]))
                self.enc(f["type"], v[f["name"]], out, "%s.%s" % (path, f["name"]))
            extra = set(v) - {f["name"] for f in t["fields"]}
            if extra:
                raise IdlError("%s: unknown fields %s" % (path, sorted(extra)))
        elif t["kind"] == "enum":
            variants = t["variants"]
            names = [x["name"] for x in variants]
            if v not in names:
                raise IdlError("%s: %r is not a variant of %s" % (path, v, name))
            if variants[names.index(v)].get("fields"):
                raise IdlError("%s: data-carrying variants are not used here" % path)
            out.append(names.index(v))
        else:
            raise IdlError("%s: unsupported kind %s" % (path, t["kind"]))

    def encode_struct(self, name, value):
        out = bytearray()
        self.enc_defined(name, value, out)
        return bytes(out)

    def encode_account(self, name, value, space):
        data = self.account_disc[name] + self.encode_struct(name, value)
        if len(data) > space:
            raise IdlError("%s encodes to %d bytes > space %d" % (name, len(data), space))
        return data + b"\0" * (space - len(data))

    def encode_event(self, name, value):
        return self.event_disc[name] + self.encode_struct(name, value)

    def encode_instruction(self, name, args):
        out = bytearray(self.ix_disc[name])
        ix = self.instructions[name]
        for a in ix["args"]:
            self.enc(a["type"], args[a["name"]], out, "%s.%s" % (name, a["name"]))
        extra = set(args) - {a["name"] for a in ix["args"]}
        if extra:
            raise IdlError("%s: unknown args %s" % (name, sorted(extra)))
        return bytes(out)

    # ---- decoding
    def dec(self, ty, buf, off, path="value"):
        def need(n):
            if n > len(buf) - off:
                raise IdlError("%s: truncated at byte %d" % (path, off))
        if isinstance(ty, str):
            if ty in INT_FORMATS:
                size = struct.calcsize(INT_FORMATS[ty])
                need(size)
                return struct.unpack_from(INT_FORMATS[ty], buf, off)[0], off + size
            if ty in WIDE_INTS:
                size, signed = WIDE_INTS[ty]
                need(size)
                return int.from_bytes(buf[off:off + size], "little", signed=signed), off + size
            if ty == "bool":
                need(1)
                if buf[off] > 1:
                    raise IdlError("%s: bad bool byte %d" % (path, buf[off]))
                return buf[off] == 1, off + 1
            if ty in ("string", "bytes"):
                need(4)
                n = struct.unpack_from("<I", buf, off)[0]
                off += 4
                need(n)
                raw = bytes(buf[off:off + n])
                if ty == "string":
                    s = raw.decode("utf-8")  # raises on invalid UTF-8
                    if "\0" in s:
                        raise IdlError("%s: NUL in string" % path)
                    return s, off + n
                return raw, off + n
            if ty == "pubkey":
                need(32)
                return bytes(buf[off:off + 32]), off + 32
            raise IdlError("%s: unsupported type %s" % (path, ty))
        if "option" in ty:
            need(1)
            tag = buf[off]
            if tag == 0:
                return None, off + 1
            if tag != 1:
                raise IdlError("%s: bad option tag %d" % (path, tag))
            return self.dec(ty["option"], buf, off + 1, path)
        if "array" in ty:
            inner, n = ty["array"]
            if inner == "u8":
                need(n)
                return bytes(buf[off:off + n]), off + n
            vals = []
            for i in range(n):
                v, off = self.dec(inner, buf, off, "%s[%d]" % (path, i))
                vals.append(v)
            return vals, off
        if "vec" in ty:
            need(4)
            n = struct.unpack_from("<I", buf, off)[0]
            off += 4
            vals = []
            for i in range(n):
                v, off = self.dec(ty["vec"], buf, off, "%s[%d]" % (path, i))
                vals.append(v)
            return vals, off
        if "defined" in ty:
            return self.dec_defined(self._defined_name(ty), buf, off, path)
        raise IdlError("%s: unsupported type %r" % (path, ty))

    def dec_defined(self, name, buf, off, path=None):
        path = path or name
        t = self.types[name]
        if t["kind"] == "struct":
            out = {}
            for f in t["fields"]:
                out[f["name"]], off = self.dec(f["type"], buf, off, "%s.%s" % (path, f["name"]))
            return out, off
        if t["kind"] == "enum":
            if off >= len(buf):
                raise IdlError("%s: truncated enum" % path)
            idx = buf[off]
            if idx >= len(t["variants"]):
                raise IdlError("%s: bad enum index %d" % (path, idx))
            return t["variants"][idx]["name"], off + 1
        raise IdlError("%s: unsupported kind" % path)

    def decode_account(self, data):
        """-> (type name, value dict). Bytes after the layout must be zero."""
        name = self.disc_to_account.get(bytes(data[:8]))
        if name is None:
            raise IdlError("unknown account discriminator %s" % bytes(data[:8]).hex())
        value, off = self.dec_defined(name, data, 8)
        if any(data[off:]):
            raise IdlError("%s: non-zero bytes after the layout" % name)
        return name, value

    def decode_event(self, data):
        name = self.disc_to_event.get(bytes(data[:8]))
        if name is None:
            raise IdlError("unknown event discriminator %s" % bytes(data[:8]).hex())
        value, off = self.dec_defined(name, data, 8)
        if off != len(data):
            raise IdlError("%s: %d trailing bytes" % (name, len(data) - off))
        return name, value

    def decode_instruction(self, data):
        name = self.disc_to_ix.get(bytes(data[:8]))
        if name is None:
            raise IdlError("unknown instruction discriminator %s" % bytes(data[:8]).hex())
        off = 8
        args = {}
        for a in self.instructions[name]["args"]:
            args[a["name"]], off = self.dec(a["type"], data, off, "%s.%s" % (name, a["name"]))
        if off != len(data):
            raise IdlError("%s: %d trailing bytes" % (name, len(data) - off))
        return name, args

    # ---- sizes (Anchor `space`)
    def max_size(self, ty, string_max, path):
        if isinstance(ty, str):
            if ty in INT_FORMATS:
                return struct.calcsize(INT_FORMATS[ty])
            if ty in WIDE_INTS:
                return WIDE_INTS[ty][0]
            if ty == "bool":
                return 1
            if ty == "pubkey":
                return 32
            if ty in ("string", "bytes"):
                if path not in string_max:
                    raise IdlError("no maximum length for %s" % path)
                return 4 + string_max[path]
        elif "option" in ty:
            return 1 + self.max_size(ty["option"], string_max, path)
        elif "array" in ty:
            inner, n = ty["array"]
            return n * self.max_size(inner, string_max, path)
        elif "defined" in ty:
            name = self._defined_name(ty)
            t = self.types[name]
            if t["kind"] == "enum":
                return 1
            return sum(self.max_size(f["type"], string_max, f["name"]) for f in t["fields"])
        raise IdlError("cannot size %r" % (ty,))

    def account_space(self, name, string_max):
        return 8 + sum(self.max_size(f["type"], string_max, f["name"]) for f in self.fields(name))
