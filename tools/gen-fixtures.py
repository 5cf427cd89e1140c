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

The scenarios include claims that close their Position (static and
lookup-table keys), a failed transaction whose first instruction logged an
event, a Market with non-zero bytes after its layout, and (unless
--no-hostile-ws) websocket messages with out-of-range and absurd slots;
--preset days spreads a small scenario over several UTC days.

Usage:
  tools/gen-fixtures.py --out fixtures/chain --sig-page-limit 50
  tools/gen-fixtures.py --out fixtures/chain-small --markets 2 --wallets 3 --bets 5 \
      --sig-page-limit 4 --no-hostile-ws
  tools/gen-fixtures.py --out fixtures/chain-days --preset days
  tools/gen-fixtures.py --verify fixtures/chain

Standard library only.
"""

import argparse
import base64
import copy
import datetime
import hashlib
import json
import os
import struct
import sys
import time

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

    def decode_account(self, data, allow_tail=False):
        """-> (type name, value dict). Bytes after the layout must be zero
        unless allow_tail (Anchor's coder: decode the layout, ignore the rest)."""
        name = self.disc_to_account.get(bytes(data[:8]))
        if name is None:
            raise IdlError("unknown account discriminator %s" % bytes(data[:8]).hex())
        value, off = self.dec_defined(name, data, 8)
        if any(data[off:]) and not allow_tail:
            raise IdlError("%s: non-zero bytes after the layout" % name)
        return name, value

    def layout_end(self, data):
        """Offset where an account's IDL layout ends (its data decoded)."""
        name = self.disc_to_account[bytes(data[:8])]
        return self.dec_defined(name, data, 8)[1]

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


# --------------------------------------------------------------------------
# Chain constants

SYSTEM_PROGRAM = b58decode("11111111111111111111111111111111")
COMPUTE_BUDGET = b58decode("ComputeBudget111111111111111111111111111111")
VOTE_PROGRAM = b58decode("Vote111111111111111111111111111111111111111")
SYSVAR_CLOCK = b58decode("SysvarC1ock11111111111111111111111111111111")
SYSVAR_SLOT_HASHES = b58decode("SysvarS1otHashes111111111111111111111111111")
NATIVE_MINT = b58decode("So11111111111111111111111111111111111111112")
USDC_MINT = b58decode("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")
ZERO_KEY = bytes(32)

API_VERSION = "2.0.15"
U64_MAX = (1 << 64) - 1
I64_MAX = (1 << 63) - 1
RENT_EPOCH = U64_MAX            # every rent-exempt account since rent collection ended
LAMPORTS_PER_SIGNATURE = 5000
LOG_BYTES_LIMIT = 10000         # the runtime's log collector limit
SLOT_MS = 400

# Anchor `space`: maximum UTF-8 byte lengths of the strings (the IDL has none).
STRING_MAX = {
    "Market": {"title": 64, "description": 256, "category": 32, "metadata_uri": 128},
    "OracleData": {"source": 64, "value": 128},
}

# Program constants of the simulated program.
CREATION_FEE = {"Degen": 10_000_000, "Stable": 25_000_000}
ERRORS = {
    6000: ("MarketNotActive", "Market is not in the required state"),
    6001: ("BetTooSmall", "Bet amount is below the minimum"),
    6002: ("BetTooLarge", "Bet amount is above the maximum"),
    6003: ("InvalidVault", "Vault does not belong to this market and side"),
    6004: ("Unauthorized", "Signer is not allowed to do this"),
    6005: ("NothingToClaim", "Position has nothing to claim"),
    6006: ("AlreadyClaimed", "Position has already been claimed"),
    6007: ("StringTooLong", "A string argument exceeds its maximum length"),
    6008: ("OracleMismatch", "Oracle data does not belong to this market"),
    6009: ("ProgramPaused", "The program is paused"),
    6010: ("InvalidConfidence", "Confidence must be between 0 and 100"),
}
ERROR_SITES = {
    "place_bet": "programs/crypto-bet/src/instructions/place_bet.rs",
    "claim_winnings": "programs/crypto-bet/src/instructions/claim_winnings.rs",
    "claim_refund": "programs/crypto-bet/src/instructions/claim_refund.rs",
    "create_market": "programs/crypto-bet/src/instructions/create_market.rs",
    "resolve_market": "programs/crypto-bet/src/instructions/resolve_market.rs",
    "cancel_market": "programs/crypto-bet/src/instructions/cancel_market.rs",
    "update_oracle": "programs/crypto-bet/src/instructions/update_oracle.rs",
    "initialize_config": "programs/crypto-bet/src/instructions/initialize_config.rs",
}
# Base compute units per instruction (plus jitter and CPI costs).
CU_BASE = {"initialize_config": 9000, "create_market": 31000, "place_bet": 19000,
           "claim_winnings": 14000, "claim_refund": 13000, "resolve_market": 8000,
           "cancel_market": 6000, "update_oracle": 12000, "route_bet": 6000}
CU_INVOKE = 1000
CU_BUILTIN = 150


def rent_exempt(space):
    return (128 + space) * 3480 * 2


def pascal(name):
    return "".join(p.capitalize() for p in name.split("_"))


class ProgramError(Exception):
    def __init__(self, code, line):
        super().__init__(code)
        self.code = code
        self.line = line


class TxFailed(Exception):
    def __init__(self, index, code):
        super().__init__(index, code)
        self.index = index
        self.code = code


# --------------------------------------------------------------------------
# Chain model

class Meta:
    """An account of an instruction: key, is_signer, is_writable."""
    __slots__ = ("key", "signer", "writable")

    def __init__(self, key, signer=False, writable=False):
        self.key, self.signer, self.writable = key, signer, writable


class Ix:
    """A top-level instruction of a transaction to run."""

    def __init__(self, program, metas, data, kind, name=None, args=None, accts=None, opts=None):
        self.program, self.metas, self.data, self.kind = program, metas, data, kind
        self.name, self.args, self.accts = name, args or {}, accts or {}
        self.opts = opts or {}


class World:
    def __init__(self, idl, seed):
        self.idl = idl
        self.seed = seed
        self.program = b58decode(idl.address)
        self.lamports = {}
        # program accounts: key -> {"type", "value", "space", "slot", "tail"}
        # ("tail": non-zero bytes after the IDL layout, for accounts allocated larger)
        self.acc = {}
        # closed program accounts: key -> the last state before the close plus
        # "closed_slot", "closed_time" (lamports 0, owner System, data empty)
        self.closed = {}
        self.order = []     # every program account ever created, in creation order
        self.space = {n: idl.account_space(n, STRING_MAX.get(n, {})) for n in idl.account_disc}
        for k, v in ((SYSTEM_PROGRAM, 1), (COMPUTE_BUDGET, 1), (VOTE_PROGRAM, 1),
                     (SYSVAR_CLOCK, 1169280), (SYSVAR_SLOT_HASHES, 143487360)):
            self.lamports[k] = v
        self.lamports[self.program] = 1141440

    def key(self, label):
        return sha256(self.seed, "/key/", label)

    def bump(self, key):
        return 255 - key[0] % 5

    def encode(self, key):
        a = self.acc[key] if key in self.acc else self.closed[key]
        tail = a.get("tail", b"")
        return self.idl.encode_account(a["type"], a["value"], a["space"] - len(tail)) + tail


class Exec:
    """Runs one transaction against the world: logs (with the runtime's
    truncation), inner instructions, compute units, events, changes."""

    def __init__(self, world, rng, slot, block_time, budget):
        self.w = world
        self.rng = rng
        self.slot = slot
        self.time = block_time
        self.logs = []
        self.log_bytes = 0
        self.log_truncated = False
        self.flat = []          # every instruction in execution order
        self.inner = {}         # top index -> [inner instruction]
        self.events = []        # (flat index of the emitting instruction, name, value)
        self.changed = []       # program accounts written, in order
        self.closed_keys = []   # program accounts closed, in order
        self.top = None
        self.frames = []
        self.budget = budget
        self.cu_total = 0

    # ---- logs (LogCollector semantics: a message that would reach the
    # limit is dropped; the first drop appends "Log truncated")
    def log(self, msg):
        n = len(msg.encode("utf-8"))
        if self.log_bytes + n >= LOG_BYTES_LIMIT:
            if not self.log_truncated:
                self.log_truncated = True
                self.logs.append("Log truncated")
        else:
            self.log_bytes += n
            self.logs.append(msg)

    # ---- state
    def write(self, key, type_name, value):
        w = self.w
        if key not in w.acc:
            raise RuntimeError("write to missing account")
        w.acc[key]["value"] = value
        w.acc[key]["slot"] = self.slot
        if key not in self.changed:
            self.changed.append(key)

    def get(self, key, type_name):
        a = self.w.acc.get(key)
        if a is None or a["type"] != type_name:
            return None
        return a["value"]

    def move(self, src, dst, lamports):
        lam = self.w.lamports
        if lam.get(src, 0) < lamports:
            raise RuntimeError("insufficient lamports in %s" % b58encode(src))
        lam[src] -= lamports
        lam[dst] = lam.get(dst, 0) + lamports
        for k in (src, dst):
            if k in self.w.acc:
                self.w.acc[k]["slot"] = self.slot
                if k not in self.changed:
                    self.changed.append(k)

    # ---- instruction bookkeeping
    def record(self, program, keys, data, stack):
        entry = {"program": program, "accounts": list(keys), "data": bytes(data),
                 "stack": stack, "top": self.top}
        self.flat.append(entry)
        if stack > 1:
            self.inner.setdefault(self.top, []).append(entry)
        return len(self.flat) - 1

    def frame(self):
        return self.frames[-1]

    def cpi_system(self, depth, data, keys):
        self.record(SYSTEM_PROGRAM, keys, data, depth)
        self.log("Program 11111111111111111111111111111111 invoke [%d]" % depth)
        self.log("Program 11111111111111111111111111111111 success")
        self.frame()["used"] += CU_INVOKE + CU_BUILTIN

    def create_account(self, depth, payer, new, type_name, value, tail=b""):
        """System CreateAccount CPI; tail: bytes after the IDL layout (an
        account allocated larger than its layout, its spare bytes written)."""
        space = self.w.space[type_name] + len(tail)
        lamports = rent_exempt(space)
        data = struct.pack("<IQQ", 0, lamports, space) + self.w.program
        self.cpi_system(depth, data, [payer, new])
        if new in self.w.acc or new in self.w.closed or self.w.lamports.get(new, 0):
            raise RuntimeError("account already exists")
        self.w.acc[new] = {"type": type_name, "value": value, "space": space, "slot": self.slot}
        if tail:
            self.w.acc[new]["tail"] = bytes(tail)
        self.w.order.append(new)
        self.move(payer, new, lamports)

    def close_account(self, key, dest):
        """Anchor `close = dest`: every lamport to dest, owner System, data
        emptied (no CPI, no log). The account leaves the program's accounts:
        account reads answer null, programSubscribe sends nothing."""
        lam = self.w.lamports
        a = self.w.acc.pop(key)
        a = dict(a, closed_slot=self.slot, closed_time=self.time)
        self.w.closed[key] = a
        lam[dest] = lam.get(dest, 0) + lam[key]
        lam[key] = 0
        if key in self.changed:
            self.changed.remove(key)
        self.closed_keys.append(key)

    def transfer(self, depth, src, dst, lamports):
        data = struct.pack("<IQ", 2, lamports)
        self.cpi_system(depth, data, [src, dst])
        self.move(src, dst, lamports)

    def emit(self, depth, flat_index, name, value, via_cpi=False):
        data = self.w.idl.encode_event(name, value)
        self.events.append((flat_index, name, value))
        if not via_cpi:
            self.log("Program data: " + b64(data))
            return
        # emit_cpi!: the program invokes itself with the event as data
        prog = b58encode(self.w.program)
        parent = self.frame()
        parent["used"] += CU_INVOKE
        self.record(self.w.program, [self.w.key("__event_authority")], EMIT_CPI_TAG + data,
                    depth + 1)
        self.log("Program %s invoke [%d]" % (prog, depth + 1))
        child_budget = parent["budget"] - parent["used"]
        used = 1400 + self.rng.below(400)
        self.log("Program %s consumed %d of %d compute units" % (prog, used, child_budget))
        self.log("Program %s success" % prog)
        parent["used"] += used

    # ---- running instructions
    def run_builtin_top(self, index, ix):
        self.top = index
        self.record(ix.program, [m.key for m in ix.metas], ix.data, 1)
        name = b58encode(ix.program)
        self.log("Program %s invoke [1]" % name)
        self.log("Program %s success" % name)
        self.budget -= CU_BUILTIN
        self.cu_total += CU_BUILTIN

    def run_top(self, index, ix):
        self.top = index
        if ix.kind == "builtin":
            return self.run_builtin_top(index, ix)
        self.frames = [{"budget": self.budget, "used": 0}]
        try:
            if ix.kind == "cb":
                self.call_cb(1, ix, self.frames[0])
            elif ix.kind == "router":
                self.call_router(ix)
            else:
                raise RuntimeError("unknown instruction kind")
        except ProgramError as e:
            raise TxFailed(index, e.code)
        finally:
            used = self.frames[0]["used"]
            self.budget -= used
            self.cu_total += used
            self.frames = []

    def call_router(self, ix):
        router = b58encode(ix.program)
        self.record(ix.program, [m.key for m in ix.metas], ix.data, 1)
        frame = self.frames[0]
        self.log("Program %s invoke [1]" % router)
        self.log("Program log: Instruction: RouteBet")
        frame["used"] += CU_BASE["route_bet"] + self.rng.below(800)
        inner = ix.opts["inner"]
        frame["used"] += CU_INVOKE
        child = {"budget": frame["budget"] - frame["used"], "used": 0}
        self.frames.append(child)
        self.call_cb(2, inner, child)
        self.frames.pop()
        frame["used"] += child["used"]
        self.log("Program %s consumed %d of %d compute units" % (router, frame["used"], frame["budget"]))
        self.log("Program %s success" % router)

    def call_cb(self, depth, ix, frame):
        prog = b58encode(self.w.program)
        flat_index = self.record(self.w.program, [m.key for m in ix.metas], ix.data, depth)
        self.log("Program %s invoke [%d]" % (prog, depth))
        self.log("Program log: Instruction: %s" % pascal(ix.name))
        if frame is not self.frames[-1]:
            raise RuntimeError("frame stack out of order")
        frame["used"] += CU_BASE[ix.name] + self.rng.below(3000)
        handler = getattr(self, "ix_" + ix.name)
        try:
            handler(depth, flat_index, ix)
        except ProgramError as e:
            err_name, err_msg = ERRORS[e.code]
            self.log("Program log: AnchorError thrown in %s:%d. Error Code: %s. Error Number: %d. "
                     "Error Message: %s." % (ERROR_SITES[ix.name], e.line, err_name, e.code, err_msg))
            self.log("Program %s consumed %d of %d compute units" % (prog, frame["used"], frame["budget"]))
            self.log("Program %s failed: custom program error: 0x%x" % (prog, e.code))
            raise
        self.log("Program %s consumed %d of %d compute units" % (prog, frame["used"], frame["budget"]))
        self.log("Program %s success" % prog)

    # ---- the Crypto Bet instructions
    def ix_initialize_config(self, depth, fi, ix):
        a, args = ix.accts, ix.args
        cfg_key = a["global_config"]
        value = {
            "authority": a["authority"],
            "platform_fee_bps": args["platform_fee_bps"],
            "min_market_duration": args["min_market_duration"],
            "max_market_duration": args["max_market_duration"],
            "min_bet_amount": args["min_bet_amount"],
            "max_bet_amount": args["max_bet_amount"],
            "platform_treasury": a["platform_treasury"],
            "is_paused": False,
            "total_markets_created": 0,
            "total_volume": 0,
            "version": 1,
            "bump": self.w.bump(cfg_key),
        }
        self.create_account(depth + 1, a["authority"], cfg_key, "GlobalConfig", value)

    def ix_create_market(self, depth, fi, ix):
        a, args = ix.accts, ix.args
        w = self.w
        cfg = copy.deepcopy(self.get(a["global_config"], "GlobalConfig"))
        for field, limit in STRING_MAX["Market"].items():
            if len(args[field].encode("utf-8")) > limit:
                raise ProgramError(6007, 71)
        if cfg["is_paused"]:
            raise ProgramError(6009, 64)
        mtype = args["market_type"]
        fee = CREATION_FEE[mtype]
        market = {
            "authority": a["authority"],
            "market_id": args["market_id"],
            "title": args["title"],
            "description": args["description"],
            "category": args["category"],
            "created_at": self.time,
            "resolution_time": args["resolution_time"],
            "state": "Active",
            "market_type": mtype,
            "accepted_mint": a["accepted_mint"],
            "yes_vault": a["yes_vault"],
            "no_vault": a["no_vault"],
            "yes_pool": 0,
            "no_pool": 0,
            "total_volume": 0,
            "total_participants": 0,
            "resolution_result": None,
            "resolver": a["resolver"],
            "oracle_source": args["oracle_source"],
            "metadata_uri": args["metadata_uri"],
            "creation_fee": fee,
            "bump": w.bump(a["market"]),
        }
        self.create_account(depth + 1, a["authority"], a["market"], "Market", market,
                            tail=ix.opts.get("tail", b""))
        for side, vault in (("YesPool", a["yes_vault"]), ("NoPool", a["no_vault"])):
            self.create_account(depth + 1, a["authority"], vault, "Treasury", {
                "market": a["market"], "mint": a["accepted_mint"], "authority": a["market"],
                "total_deposits": 0, "total_withdrawals": 0, "current_balance": 0,
                "treasury_type": side, "bump": w.bump(vault)})
        self.transfer(depth + 1, a["authority"], a["global_config"], fee)
        cfg["total_markets_created"] += 1
        self.write(a["global_config"], "GlobalConfig", cfg)
        self.emit(depth, fi, "MarketCreated", {
            "market": a["market"], "market_id": args["market_id"], "authority": a["authority"],
            "market_type": mtype, "creation_fee": fee, "timestamp": self.time})

    def ix_place_bet(self, depth, fi, ix):
        a, args = ix.accts, ix.args
        w = self.w
        cfg = copy.deepcopy(self.get(a["global_config"], "GlobalConfig"))
        market = copy.deepcopy(self.get(a["market"], "Market"))
        side, amount = args["side"], args["amount"]
        if cfg["is_paused"]:
            raise ProgramError(6009, 38)
        if market is None or market["state"] != "Active":
            raise ProgramError(6000, 41)
        if amount < cfg["min_bet_amount"]:
            raise ProgramError(6001, 44)
        if amount > cfg["max_bet_amount"]:
            raise ProgramError(6002, 47)
        want_vault = market["yes_vault"] if side == "Yes" else market["no_vault"]
        if a["vault"] != want_vault or a["platform_treasury"] != cfg["platform_treasury"]:
            raise ProgramError(6003, 50)
        user, pos_key, plat = a["user"], a["position"], a["platform_treasury"]
        if plat not in w.acc:
            self.create_account(depth + 1, user, plat, "Treasury", {
                "market": ZERO_KEY, "mint": NATIVE_MINT, "authority": a["global_config"],
                "total_deposits": 0, "total_withdrawals": 0, "current_balance": 0,
                "treasury_type": "Platform", "bump": w.bump(plat)})
        position = self.get(pos_key, "Position")
        if position is None:
            self.create_account(depth + 1, user, pos_key, "Position", {
                "user": user, "market": a["market"], "yes_shares": 0, "no_shares": 0,
                "total_invested": 0, "yes_avg_price": 0, "no_avg_price": 0,
                "created_at": self.time, "updated_at": self.time, "claimed": False,
                "claimed_amount": 0, "bet_count": 0, "bump": w.bump(pos_key)})
            market["total_participants"] += 1
        position = copy.deepcopy(self.get(pos_key, "Position"))
        fee = amount * cfg["platform_fee_bps"] // 10000
        net = amount - fee
        self.transfer(depth + 1, user, a["vault"], net)
        if fee:
            self.transfer(depth + 1, user, plat, fee)
        if side == "Yes":
            market["yes_pool"] += net
        else:
            market["no_pool"] += net
        side_pool = market["yes_pool"] if side == "Yes" else market["no_pool"]
        price = side_pool * 1_000_000_000 // (market["yes_pool"] + market["no_pool"])
        market["total_volume"] += amount
        sh, av = ("yes_shares", "yes_avg_price") if side == "Yes" else ("no_shares", "no_avg_price")
        old = position[sh]
        position[av] = (position[av] * old + price * net) // (old + net)
        position[sh] = old + net
        position["total_invested"] += amount
        position["bet_count"] += 1
        position["updated_at"] = self.time
        vault = copy.deepcopy(self.get(a["vault"], "Treasury"))
        vault["total_deposits"] += net
        vault["current_balance"] += net
        ptre = copy.deepcopy(self.get(plat, "Treasury"))
        ptre["total_deposits"] += fee
        ptre["current_balance"] += fee
        cfg["total_volume"] += amount
        self.write(a["global_config"], "GlobalConfig", cfg)
        self.write(a["market"], "Market", market)
        self.write(pos_key, "Position", position)
        self.write(a["vault"], "Treasury", vault)
        self.write(plat, "Treasury", ptre)
        if ix.opts.get("verbose"):
            self.verbose_odds(market)
        self.emit(depth, fi, "BetPlaced", {
            "market": a["market"], "position": pos_key, "user": user, "side": side,
            "amount": amount, "platform_fee": fee, "price": price,
            "yes_pool": market["yes_pool"], "no_pool": market["no_pool"],
            "timestamp": self.time}, via_cpi=bool(ix.opts.get("emit_cpi")))

    def verbose_odds(self, market):
        """A debug build's odds table: logs until the collector truncates."""
        total = market["yes_pool"] + market["no_pool"]
        row = 0
        while not self.log_truncated:
            gap = LOG_BYTES_LIMIT - 1 - self.log_bytes
            bucket = row % 64
            yes = market["yes_pool"] * (bucket + 1) // 64
            no = market["no_pool"] * (64 - bucket) // 64
            line = ("Program log: odds[%d]: yes_pool=%d no_pool=%d total=%d implied_yes=%d"
                    % (row, yes, no, total, yes * 1_000_000_000 // max(1, yes + no)))
            n = len(line.encode("utf-8"))
            if n > gap and gap > len("Program log: ") + 8:
                # fill the collector to one byte short of its limit so that
                # nothing after this line fits
                line = line[:gap]
            self.log(line)
            row += 1

    def ix_update_oracle(self, depth, fi, ix):
        a, args = ix.accts, ix.args
        if not 0 <= args["confidence"] <= 100:
            raise ProgramError(6010, 33)
        for field, limit in STRING_MAX["OracleData"].items():
            if len(args[field].encode("utf-8")) > limit:
                raise ProgramError(6007, 30)
        value = {"authority": a["authority"], "market": a["market"], "source": args["source"],
                 "value": args["value"], "timestamp": args["timestamp"],
                 "confidence": args["confidence"], "signature": args["signature"],
                 "bump": self.w.bump(a["oracle_data"])}
        existing = self.get(a["oracle_data"], "OracleData")
        if existing is None:
            self.create_account(depth + 1, a["authority"], a["oracle_data"], "OracleData", value)
        else:
            if existing["market"] != a["market"]:
                raise ProgramError(6008, 36)
            self.write(a["oracle_data"], "OracleData", value)

    def ix_resolve_market(self, depth, fi, ix):
        a, args = ix.accts, ix.args
        market = copy.deepcopy(self.get(a["market"], "Market"))
        if market is None or market["state"] != "Active":
            raise ProgramError(6000, 29)
        if market["resolver"] != a["resolver"]:
            raise ProgramError(6004, 32)
        oracle = self.get(a["oracle_data"], "OracleData")
        if oracle is None or oracle["market"] != a["market"]:
            raise ProgramError(6008, 35)
        market["state"] = "Resolved"
        market["resolution_result"] = args["result"]
        self.write(a["market"], "Market", market)
        self.emit(depth, fi, "MarketResolved", {"market": a["market"], "resolver": a["resolver"],
                                                "result": args["result"], "timestamp": self.time})

    def ix_cancel_market(self, depth, fi, ix):
        a = ix.accts
        market = copy.deepcopy(self.get(a["market"], "Market"))
        if market is None or market["state"] != "Active":
            raise ProgramError(6000, 24)
        if market["authority"] != a["authority"]:
            raise ProgramError(6004, 27)
        market["state"] = "Cancelled"
        self.write(a["market"], "Market", market)
        self.emit(depth, fi, "MarketCancelled", {"market": a["market"], "authority": a["authority"],
                                                 "timestamp": self.time})

    def _pay_out(self, vault_key, lamports, user):
        if not lamports:
            return
        t = copy.deepcopy(self.get(vault_key, "Treasury"))
        t["total_withdrawals"] += lamports
        t["current_balance"] -= lamports
        if t["current_balance"] < 0:
            raise RuntimeError("vault overdrawn")
        self.write(vault_key, "Treasury", t)
        self.move(vault_key, user, lamports)

    def settle_position(self, ix, position):
        """A claim's Position: written claimed, or (a build with `close = user`)
        closed with its rent going to the user; its claimed state is then never
        stored."""
        if ix.opts.get("close"):
            self.close_account(ix.accts["position"], ix.accts["user"])
        else:
            self.write(ix.accts["position"], "Position", position)

    def ix_claim_winnings(self, depth, fi, ix):
        a = ix.accts
        market = self.get(a["market"], "Market")
        position = copy.deepcopy(self.get(a["position"], "Position"))
        if market is None or market["state"] != "Resolved":
            raise ProgramError(6000, 31)
        if position is None or position["user"] != a["user"] or position["market"] != a["market"]:
            raise ProgramError(6004, 34)
        if position["claimed"]:
            raise ProgramError(6006, 37)
        yes = market["resolution_result"]
        shares = position["yes_shares"] if yes else position["no_shares"]
        if shares == 0:
            raise ProgramError(6005, 40)
        win_vault = market["yes_vault"] if yes else market["no_vault"]
        lose_vault = market["no_vault"] if yes else market["yes_vault"]
        extra = ix.opts.get("remaining", [])
        if a["vault"] != win_vault or extra != [lose_vault]:
            raise ProgramError(6003, 43)
        win_pool = market["yes_pool"] if yes else market["no_pool"]
        lose_pool = market["no_pool"] if yes else market["yes_pool"]
        bonus = shares * lose_pool // win_pool
        payout = shares + bonus
        self._pay_out(win_vault, shares, a["user"])
        self._pay_out(lose_vault, bonus, a["user"])
        position["claimed"] = True
        position["claimed_amount"] = payout
        position["updated_at"] = self.time
        self.settle_position(ix, position)
        self.emit(depth, fi, "WinningsClaimed", {"market": a["market"], "position": a["position"],
                                                 "user": a["user"], "amount": payout,
                                                 "timestamp": self.time})

    def ix_claim_refund(self, depth, fi, ix):
        a = ix.accts
        market = self.get(a["market"], "Market")
        position = copy.deepcopy(self.get(a["position"], "Position"))
        if market is None or market["state"] != "Cancelled":
            raise ProgramError(6000, 29)
        if position is None or position["user"] != a["user"] or position["market"] != a["market"]:
            raise ProgramError(6004, 32)
        if position["claimed"]:
            raise ProgramError(6006, 35)
        ys, ns = position["yes_shares"], position["no_shares"]
        if ys + ns == 0:
            raise ProgramError(6005, 38)
        vaults = []
        if ys:
            vaults.append((market["yes_vault"], ys))
        if ns:
            vaults.append((market["no_vault"], ns))
        extra = ix.opts.get("remaining", [])
        if [a["vault"]] + extra != [v for v, _ in vaults]:
            raise ProgramError(6003, 41)
        for v, amt in vaults:
            self._pay_out(v, amt, a["user"])
        position["claimed"] = True
        position["claimed_amount"] = ys + ns
        position["updated_at"] = self.time
        self.settle_position(ix, position)
        self.emit(depth, fi, "RefundClaimed", {"market": a["market"], "position": a["position"],
                                               "user": a["user"], "amount": ys + ns,
                                               "timestamp": self.time})


# --------------------------------------------------------------------------
# Transactions: compile, run, serialize

def shortvec(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def compute_budget_limit(units):
    return Ix(COMPUTE_BUDGET, [], bytes([2]) + struct.pack("<I", units), "builtin")


def compute_budget_price(micro_lamports):
    return Ix(COMPUTE_BUDGET, [], bytes([3]) + struct.pack("<Q", micro_lamports), "builtin")


class TxRecord:
    """A transaction as executed: everything the RPC node would report."""

    def __init__(self):
        self.sig = None
        self.slot = None
        self.block_time = None
        self.version = "legacy"
        self.header = None
        self.static_keys = []
        self.lookups = []           # [(table key, writable indexes, readonly indexes)]
        self.loaded_w = []
        self.loaded_r = []
        self.keys = []              # static + loaded writable + loaded readonly
        self.ixs = []               # top-level: (program index, account indexes, data)
        self.inner = {}             # top index -> [(program index, account indexes, data, stack)]
        self.logs = []
        self.err = None
        self.fee = 0
        self.pre = []
        self.post = []
        self.cu = 0
        self.blockhash = None
        self.rows = []
        self.post_states = {}       # program account -> (data, lamports, space) after this tx
        self.closed = []            # program accounts this tx closed
        self.label = ""


def compile_message(payer, ixs, alt_table=None):
    flags = {}

    def add(k, s, w):
        f = flags.setdefault(k, [False, False])
        f[0] |= s
        f[1] |= w

    add(payer, True, True)
    for ix in ixs:
        for m in ix.metas:
            add(m.key, m.signer, m.writable)
        add(ix.program, False, False)
    invoked = {ix.program for ix in ixs}
    loadable = set()
    if alt_table is not None:
        loadable = {k for k in flags if k in alt_table and not flags[k][0] and k not in invoked}
    static = [k for k in flags if k not in loadable]
    groups = ([k for k in static if flags[k][0] and flags[k][1]],
              [k for k in static if flags[k][0] and not flags[k][1]],
              [k for k in static if not flags[k][0] and flags[k][1]],
              [k for k in static if not flags[k][0] and not flags[k][1]])
    if groups[0][0] != payer:
        raise RuntimeError("fee payer must come first")
    static = [k for g in groups for k in g]
    header = {"numReadonlySignedAccounts": len(groups[1]),
              "numReadonlyUnsignedAccounts": len(groups[3]),
              "numRequiredSignatures": len(groups[0]) + len(groups[1])}
    loaded_w, loaded_r = [], []
    if alt_table is not None:
        loaded_w = [k for k in alt_table if k in loadable and flags[k][1]]
        loaded_r = [k for k in alt_table if k in loadable and not flags[k][1]]
    return header, static, loaded_w, loaded_r


def serialize_tx(rec):
    msg = bytearray()
    if rec.version == 0:
        msg.append(0x80)
    h = rec.header
    msg += bytes([h["numRequiredSignatures"], h["numReadonlySignedAccounts"],
                  h["numReadonlyUnsignedAccounts"]])
    msg += shortvec(len(rec.static_keys)) + b"".join(rec.static_keys)
    msg += rec.blockhash
    msg += shortvec(len(rec.ixs))
    for pidx, accs, data in rec.ixs:
        msg.append(pidx)
        msg += shortvec(len(accs)) + bytes(accs)
        msg += shortvec(len(data)) + data
    if rec.version == 0:
        msg += shortvec(len(rec.lookups))
        for table, widx, ridx in rec.lookups:
            msg += table + shortvec(len(widx)) + bytes(widx) + shortvec(len(ridx)) + bytes(ridx)
    return shortvec(1) + rec.sig + bytes(msg)


def parse_wire_tx(raw):
    """Inverse of serialize_tx (for --verify): -> dict with the message fields."""
    off = 0

    def rd_shortvec():
        nonlocal off
        n, shift = 0, 0
        while True:
            b = raw[off]
            off += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    def take(n):
        nonlocal off
        if n > len(raw) - off:
            raise ValueError("truncated transaction")
        v = raw[off:off + n]
        off += n
        return bytes(v)

    nsig = rd_shortvec()
    sigs = [take(64) for _ in range(nsig)]
    version = "legacy"
    if raw[off] & 0x80:
        version = raw[off] & 0x7F
        off += 1
    hdr = take(3)
    keys = [take(32) for _ in range(rd_shortvec())]
    blockhash = take(32)
    ixs = []
    for _ in range(rd_shortvec()):
        pidx = take(1)[0]
        accs = list(take(rd_shortvec()))
        data = take(rd_shortvec())
        ixs.append((pidx, accs, data))
    lookups = []
    if version != "legacy":
        for _ in range(rd_shortvec()):
            table = take(32)
            widx = list(take(rd_shortvec()))
            ridx = list(take(rd_shortvec()))
            lookups.append((table, widx, ridx))
    if off != len(raw):
        raise ValueError("trailing bytes in transaction")
    return {"signatures": sigs, "version": version, "header": list(hdr), "keys": keys,
            "blockhash": blockhash, "instructions": ixs, "lookups": lookups}


def cb_ix(world, name, accts, args, extra=None, **opts):
    """A Crypto Bet instruction: accounts in IDL order (flags from the IDL),
    data = IDL discriminator + Borsh args."""
    idl = world.idl
    metas = []
    resolved = {}
    for a in idl.instructions[name]["accounts"]:
        if a["name"] in accts:
            key = accts[a["name"]]
        elif "address" in a:
            key = b58decode(a["address"])
        else:
            raise RuntimeError("%s: account %s missing" % (name, a["name"]))
        resolved[a["name"]] = key
        metas.append(Meta(key, bool(a.get("signer")), bool(a.get("writable"))))
    for m in extra or []:
        metas.append(m)
    data = idl.encode_instruction(name, args)
    return Ix(world.program, metas, data, "cb", name, args, resolved, opts)


class Clock:
    """Slots, skipped slots, blocks and their heights/times/hashes."""

    def __init__(self, rng, seed, start_slot, start_height, start_time, forced_skips):
        self.rng = rng
        self.seed = seed
        self.start_slot = start_slot
        self.start_height = start_height
        self.start_time = start_time
        self.forced_skips = set(forced_skips)
        self.blocks = {}            # slot -> block dict
        self.order = []             # produced slots
        self.skipped = []
        self.last = start_slot - 1  # last produced (or pre-history) slot
        self.next_slot = start_slot
        self.cap = 0
        self.current = None
        self.time_offset = 0        # seconds added by jump_to()

    def blockhash(self, slot):
        return sha256(self.seed, "/blockhash/", str(slot))

    def time_of(self, slot):
        return self.start_time + (slot - self.start_slot) * SLOT_MS // 1000 + self.time_offset

    def jump_to(self, t):
        """Quiet period: the next block's time is at least t (block times jump
        forward; slots stay consecutive)."""
        self.close()
        self.time_offset += max(0, t - self.time_of(self.next_slot))

    def produce(self):
        s = self.next_slot
        while s != self.start_slot and (s in self.forced_skips or self.rng.chance(0.05)):
            self.skipped.append(s)
            s += 1
        block = {"slot": s, "parent": self.last, "height": self.start_height + len(self.order),
                 "time": self.time_of(s),
                 "hash": self.blockhash(s), "prev_hash": self.blockhash(self.last), "txs": []}
        self.blocks[s] = block
        self.order.append(s)
        self.last = s
        self.next_slot = s + 1
        self.current = block
        return block

    def take(self):
        while self.cap == 0:
            self.produce()
            r = self.rng.below(100)
            self.cap = 0 if r < 10 else 1 if r < 45 else 2 if r < 80 else 3
            if self.current["slot"] == self.start_slot:
                self.cap = max(self.cap, 1)
        self.cap -= 1
        return self.current

    def close(self):
        self.cap = 0

    def recent_blockhash(self):
        back = min(len(self.order), 1 + self.rng.below(6))
        return self.blockhash(self.order[-back]) if self.order else self.blockhash(self.last)


class Chain:
    """Runs transactions on the world at the clock's slots."""

    def __init__(self, world, rng, clock, seed):
        self.w = world
        self.rng = rng
        self.clock = clock
        self.seed = seed
        self.sig_counter = 0
        self.records = []
        self.sigs = set()

    def new_signature(self):
        self.sig_counter += 1
        sig = hashlib.sha512(("%s/sig/%d" % (self.seed, self.sig_counter)).encode()).digest()
        if sig in self.sigs:
            raise RuntimeError("signature collision")
        self.sigs.add(sig)
        return sig

    def submit(self, payer, ixs, label, alt=None, expect_fail=False, block=None):
        w = self.w
        block = block or self.clock.take()
        rec = TxRecord()
        rec.label = label
        rec.slot, rec.block_time = block["slot"], block["time"]
        rec.sig = self.new_signature()
        rec.blockhash = self.clock.recent_blockhash()
        alt_table = alt[1] if alt else None
        rec.header, rec.static_keys, rec.loaded_w, rec.loaded_r = compile_message(payer, ixs, alt_table)
        if alt:
            rec.version = 0
            table_key, table = alt
            widx = [table.index(k) for k in rec.loaded_w]
            ridx = [table.index(k) for k in rec.loaded_r]
            rec.lookups = [(table_key, widx, ridx)]
        rec.keys = rec.static_keys + rec.loaded_w + rec.loaded_r
        index = {k: i for i, k in enumerate(rec.keys)}
        if len(index) != len(rec.keys):
            raise RuntimeError("duplicate account key")
        for ix in ixs:
            rec.ixs.append((index[ix.program], [index[m.key] for m in ix.metas], ix.data))
        # compute budget and fee
        limit, price = None, 0
        for ix in ixs:
            if ix.program == COMPUTE_BUDGET:
                if ix.data[0] == 2:
                    limit = struct.unpack("<I", ix.data[1:5])[0]
                elif ix.data[0] == 3:
                    price = struct.unpack("<Q", ix.data[1:9])[0]
        if limit is None:
            n = sum(1 for ix in ixs if ix.program != COMPUTE_BUDGET)
            limit = min(1_400_000, 200_000 * n)
        rec.fee = LAMPORTS_PER_SIGNATURE * rec.header["numRequiredSignatures"] + \
            (price * limit + 999_999) // 1_000_000
        rec.pre = [w.lamports.get(k, 0) for k in rec.keys]
        snapshot = (copy.deepcopy(w.acc), dict(w.lamports), list(w.order), copy.deepcopy(w.closed)) \
            if expect_fail else None
        if w.lamports.get(payer, 0) < rec.fee:
            raise RuntimeError("payer cannot pay the fee")
        w.lamports[payer] -= rec.fee
        ex = Exec(w, self.rng, rec.slot, rec.block_time, limit)
        failed = None
        try:
            for i, ix in enumerate(ixs):
                ex.run_top(i, ix)
        except TxFailed as f:
            failed = f
        if (failed is not None) != expect_fail:
            raise RuntimeError("%s: unexpected outcome %r" % (label, failed and failed.code))
        if failed is not None:
            w.acc, w.lamports, w.order, w.closed = snapshot
            w.lamports[payer] -= rec.fee
            rec.err = {"InstructionError": [failed.index, {"Custom": failed.code}]}
            ex.changed = []
            ex.events = []
            ex.closed_keys = []
        rec.logs = ex.logs
        rec.cu = ex.cu_total
        for top, entries in ex.inner.items():
            rec.inner[top] = [(index[e["program"]], [index[k] for k in e["accounts"]], e["data"],
                               e["stack"]) for e in entries]
        rec.post = [w.lamports.get(k, 0) for k in rec.keys]
        for k in ex.changed:
            if k in w.acc:
                rec.post_states[k] = (w.encode(k), w.lamports[k], w.acc[k]["space"])
        rec.closed = list(ex.closed_keys)
        rec.rows = self.rows_for(rec, ixs, ex)
        block["txs"].append(rec)
        self.records.append(rec)
        return rec

    def rows_for(self, rec, ixs, ex):
        """transactions rows: one per Crypto Bet instruction, indexed over all
        instructions (inner ones included) in execution order."""
        seen = []   # (Ix or None, flat entry or None)
        cb_by_entry = {}
        for entry in ex.flat:
            if entry["program"] == self.w.program and entry["data"][:8] != EMIT_CPI_TAG:
                cb_by_entry[id(entry)] = entry
        tops_entries = {}
        for entry in ex.flat:
            if entry["stack"] == 1:
                tops_entries[entry["top"]] = entry
        for i, ix in enumerate(ixs):
            seen.append((ix, tops_entries.get(i)))
            for entry in ex.inner.get(i, []):
                seen.append((None, entry))
        events_by_entry = {}
        for fi, name, value in ex.events:
            events_by_entry[id(ex.flat[fi])] = (name, value)
        inner_ix = {}
        for i, ix in enumerate(ixs):
            if ix.kind == "router":
                for entry in ex.inner.get(i, []):
                    if entry["program"] == self.w.program and entry["data"][:8] != EMIT_CPI_TAG:
                        inner_ix[id(entry)] = ix.opts["inner"]
        rows = []
        for n, (ix, entry) in enumerate(seen):
            cb = None
            if ix is not None and ix.kind == "cb":
                cb = ix
            elif entry is not None and id(entry) in inner_ix:
                cb = inner_ix[id(entry)]
            if cb is None:
                continue
            ev = events_by_entry.get(id(entry)) if entry is not None else None
            rows.append(self.make_row(rec, n, cb, ev))
        return rows

    def make_row(self, rec, index, ix, ev):
        a, name = ix.accts, ix.name
        user_role = {"place_bet": "user", "claim_winnings": "user", "claim_refund": "user",
                     "create_market": "authority", "cancel_market": "authority",
                     "resolve_market": "resolver", "update_oracle": "authority",
                     "initialize_config": "authority"}[name]
        ok = rec.err is None
        ev_name, ev = ev if ev else (None, None)
        amount = 0
        if name == "place_bet":
            amount = ix.args["amount"]
        elif name in ("claim_winnings", "claim_refund") and ev:
            amount = ev["amount"]
        elif name == "create_market" and ev:
            amount = ev["creation_fee"]
        row = {
            "signature": b58encode(rec.sig),
            "instruction_index": index,
            "transaction_type": name,
            "market_pubkey": b58encode(a["market"]) if "market" in a else None,
            "user_pubkey": b58encode(a[user_role]),
            "amount": str(amount),
            "side": ix.args["side"].lower() if name == "place_bet" else None,
            "price": fmt9(ev["price"]) if ev_name == "BetPlaced" else None,
            "slot": rec.slot,
            "block_time_unix": rec.block_time,
            "block_height": None,   # filled from the block
            "fee_amount": str(rec.fee),
            "platform_fee": str(ev["platform_fee"]) if ev_name == "BetPlaced" else "0",
            "status": "confirmed" if ok else "failed",
            "error_message": None if ok else dumps(rec.err),
            "resolution_result": ev["result"] if ev_name == "MarketResolved" else None,
            "resolved_at_unix": ev["timestamp"] if ev_name == "MarketResolved" else None,
        }
        if ok and ev_name == "BetPlaced":
            # the event's pools after the bet, for the expected analytics
            rec.__dict__.setdefault("bet_events", []).append((row, ev))
        return row


def pool_price(part, yes_pool, no_pool):
    """part / (yes_pool + no_pool) rounded half up to 9 decimals (0.5 on empty pools)."""
    total = yes_pool + no_pool
    if total == 0:
        return "0.500000000"
    return fmt9((part * 2_000_000_000 + total) // (2 * total))


def expected_analytics(records, tables, tx_rows, tip_time):
    """market_analytics as the indexer must derive it: one row per market and
    UTC day (block time) from its creation day through its resolution or
    cancellation day, or through the tip's day while active; prices from the
    BetPlaced pools after each successful bet, bets ordered by slot then
    yes_pool + no_pool; a day without bets carries the previous close (0.5
    before the first bet)."""
    day = lambda t: t // 86400
    iso = lambda d: (datetime.date(1970, 1, 1) + datetime.timedelta(days=d)).isoformat()
    bets = {}
    for rec in records:
        for row, ev in rec.__dict__.get("bet_events", []):
            bets.setdefault(row["market_pubkey"], []).append(
                (row["slot"], ev["yes_pool"] + ev["no_pool"], row["block_time_unix"],
                 int(row["amount"]), row["user_pubkey"], ev["yes_pool"], ev["no_pool"]))
    ended = {}
    for row in tx_rows:
        if row["status"] == "confirmed" and row["transaction_type"] == "cancel_market":
            ended.setdefault(row["market_pubkey"], day(row["block_time_unix"]))
    out = []
    for m in tables["markets_cache"]:
        key = m["market_pubkey"]
        first = day(m["created_at_unix"])
        if m["state"] == "resolved":
            last = day(m["resolved_at_unix"])
        elif m["state"] == "cancelled":
            last = ended[key]
        else:
            last = day(tip_time)
        series = sorted(bets.get(key, []))
        carry = ("0.500000000", "0.500000000")
        for d in range(first, last + 1):
            todays = [b for b in series if day(b[2]) == d]
            if todays:
                yes = [pool_price(b[5], b[5], b[6]) for b in todays]
                no = [pool_price(b[6], b[5], b[6]) for b in todays]
                num = lambda p: int(p.replace(".", ""))
                out.append({
                    "market_pubkey": key, "date": iso(d),
                    "daily_volume": str(sum(b[3] for b in todays)),
                    "daily_bets": len(todays),
                    "daily_participants": len({b[4] for b in todays}),
                    "yes_price_open": yes[0], "yes_price_close": yes[-1],
                    "yes_price_high": max(yes, key=num), "yes_price_low": min(yes, key=num),
                    "no_price_open": no[0], "no_price_close": no[-1],
                    "no_price_high": max(no, key=num), "no_price_low": min(no, key=num)})
                carry = (yes[-1], no[-1])
            else:
                y, n = carry
                out.append({
                    "market_pubkey": key, "date": iso(d), "daily_volume": "0",
                    "daily_bets": 0, "daily_participants": 0,
                    "yes_price_open": y, "yes_price_close": y, "yes_price_high": y,
                    "yes_price_low": y, "no_price_open": n, "no_price_close": n,
                    "no_price_high": n, "no_price_low": n})
    return out


def format_expected(expected):
    """expected.json with one table row per line (small and diff-friendly)."""
    out = ["{"]
    items = list(expected.items())
    for n, (name, value) in enumerate(items):
        comma = "," if n + 1 < len(items) else ""
        if isinstance(value, list):
            out.append(" %s: [" % dumps(name))
            for i, row in enumerate(value):
                out.append("  " + dumps(row) + ("," if i + 1 < len(value) else ""))
            out.append(" ]" + comma)
        else:
            out.append(" %s: {" % dumps(name))
            sub = list(value.items())
            for i, (k, v) in enumerate(sub):
                out.append("  %s: %s%s" % (dumps(k), dumps(v), "," if i + 1 < len(sub) else ""))
            out.append(" }" + comma)
    out.append("}")
    return "\n".join(out) + "\n"


def fmt9(v):
    """u64/i128 fixed point with 9 decimals as NUMERIC(.., 9) text."""
    sign = "-" if v < 0 else ""
    v = abs(v)
    return "%s%d.%09d" % (sign, v // 1_000_000_000, v % 1_000_000_000)


# --------------------------------------------------------------------------
# The scenario

def fit_utf8(text, limit):
    """text cut (on a character boundary) to at most limit UTF-8 bytes."""
    raw = text.encode("utf-8")[:limit]
    return raw.decode("utf-8", "ignore")


def pad_utf8(text, limit, filler):
    """text repeated with filler until exactly limit bytes (ASCII filler)."""
    while len(text.encode("utf-8")) < limit:
        text += filler
    text = fit_utf8(text, limit)
    while len(text.encode("utf-8")) < limit:
        text += "."
    return text


MARKET_TEMPLATES = [
    # title, description, category, metadata_uri
    ("Will BTC ≥ $100k? 🚀",
     "Resolves YES if the BTC/USD index prints at or above 100,000 before the resolution time.",
     "crypto", "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"),
    ("Fed cuts rates in March?", "", "macro", ""),
    (None, None, None, None),   # maximum lengths, multi-byte
    ("比特币会在年底前突破十万美元吗？",
     "Line one of the rules.\nLine two, with a tab:\tand \"quotes\", a back\\slash and 'apostrophes'.",
     "加密货币", "https://arweave.net/kT3oXn6Xv0Q1p9yH0uHcS1s0FJ3iVhY4qzgk3Y8L6bA"),
    ("SOL flips ETH by market cap (\"flippening\")?", "Ünïcödé déscriptïön — ça marche? ✓",
     "crypto", "ipfs://QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"),
    ("Empty-ish", " ", "misc", "ipfs://x"),
    ("<b>HTML</b> & SQL'; DROP TABLE markets; --", "Percent % and underscore _ wildcards.",
     "edge-cases", "https://example.org/m?id=6&lang=en#frag"),
    ("ETH above $5,000 by 2025-06-30?", "Settles on the Coinbase ETH-USD daily close.",
     "crypto", "ipfs://bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"),
]


def market_strings(i):
    if i < len(MARKET_TEMPLATES):
        title, desc, cat, uri = MARKET_TEMPLATES[i]
        if title is None:
            title = pad_utf8("Ünïcödé ≥ limits: does a 64-byte title fit? ✓ ", 64, "é")
            desc = pad_utf8("A description at the 256-byte maximum with emoji 🎲🎯 and accents "
                            "àéîõü, so that byte and character counts differ. ", 256, "x")
            cat = pad_utf8("decentralized-finance-", 32, "z")
            uri = pad_utf8("https://metadata.example.com/crypto-bet/markets/", 128, "0")
        return title, desc, cat, uri
    assets = ["BTC", "ETH", "SOL", "JUP", "BONK", "WIF", "PYTH", "JTO"]
    asset = assets[i % len(assets)]
    return ("Will %s close higher on day %d? (#%d)" % (asset, i % 28 + 1, i),
            "Generated market %d about %s." % (i, asset),
            ["crypto", "memes", "defi", "sports"][i % 4],
            "ipfs://bafy%052d" % i)


MARKET_TAIL = 40


class Scenario:
    def __init__(self, args, idl):
        self.args = args
        self.seed = args.seed
        self.idl = idl
        self.w = World(idl, args.seed)
        self.rng = Rng(args.seed)
        start = args.start_slot
        forced = [start + 3, start + 17, start + 18]
        self.clock = Clock(self.rng, args.seed, start, args.start_height, args.start_time, forced)
        self.chain = Chain(self.w, self.rng, self.clock, args.seed)
        w = self.w
        self.admin = w.key("admin")
        self.config = w.key("global_config")
        self.platform = w.key("treasury/platform")
        self.event_authority = w.key("__event_authority")
        self.router = w.key("router-program")
        self.oracle_keeper = w.key("oracle-keeper")
        self.resolver = w.key("resolver")
        self.creators = [w.key("creator-%d" % i) for i in range(max(1, min(3, args.markets)))]
        self.wallets = [w.key("wallet-%d" % i) for i in range(args.wallets)]
        self.markets = []       # market dicts in creation order
        self.fates = []
        self.specials = {}      # label -> [signature]
        self.min_bet = 1_000_000
        self.max_bet = U64_MAX
        self.bets_left = max(0, args.bets)   # successful place_bet instructions still to come
        w.lamports[self.router] = 1141440
        # Drawn balances (250 SOL and more for the operators, 400..6000 SOL for the
        # wallets), topped up by a fixed amount when the scenario's size needs more
        # than the smallest draw could hold.
        need = self.operator_needs()
        for k in [self.admin, self.oracle_keeper, self.resolver] + self.creators:
            w.lamports[k] = 250 * 10 ** 9 + self.rng.below(10 ** 9) + \
                max(0, need.get(k, 0) - 250 * 10 ** 9)
        top_up = max(0, self.wallet_reserve(self.bets_left) - 400 * 10 ** 9)
        for k in self.wallets:
            w.lamports[k] = self.rng.between(400, 6000) * 10 ** 9 + self.rng.below(10 ** 9) + top_up

    # ---- helpers
    def note(self, label, rec):
        self.specials.setdefault(label, []).append(b58encode(rec.sig))

    def active_markets(self):
        return [m for m in self.markets
                if self.w.acc[m["key"]]["value"]["state"] == "Active"]

    def pick_wallet(self):
        heavy = max(1, len(self.wallets) // 5)
        if self.rng.chance(0.3):
            return self.wallets[self.rng.below(heavy)]
        return self.rng.choice(self.wallets)

    # Upper bound of what one successful place_bet costs its wallet at the minimum
    # amount: the amount, a share of the largest bet transaction fee (the
    # priority-fee transaction holds two bets) and a new Position's rent.
    BET_FEE_BOUND = 2 * LAMPORTS_PER_SIGNATURE

    def wallet_reserve(self, bets_left):
        """Lamports a wallet keeps back while bets_left place_bets may still come:
        each of them at the minimum amount, the Platform treasury's rent (created
        by the first bet), the failed bet's fee and one fee per possible claim
        (one per market, plus the second claim), so that whichever wallet the
        scenario picks can always pay."""
        sp = self.w.space
        per_bet = self.min_bet + self.BET_FEE_BOUND + rent_exempt(sp["Position"])
        extra = rent_exempt(sp["Treasury"]) + (max(1, self.args.markets) + 2) * self.BET_FEE_BOUND
        return bets_left * per_bet + extra

    def operator_needs(self):
        """Upper bound of what each operator key spends over the whole scenario:
        creators pay rent for a market and its two vaults plus the creation fee,
        the oracle keeper the OracleData rent, every signer its fees."""
        sp = self.w.space
        M = max(1, self.args.markets)
        fee = self.BET_FEE_BOUND
        per_market = rent_exempt(sp["Market"]) + 2 * rent_exempt(sp["Treasury"]) + \
            max(CREATION_FEE.values()) + fee
        need = {self.admin: rent_exempt(sp["GlobalConfig"]) + fee,
                self.oracle_keeper: (M + 1) * (rent_exempt(sp["OracleData"]) + fee),
                self.resolver: M * fee}
        n = len(self.creators)
        for i, k in enumerate(self.creators):
            need[k] = need.get(k, 0) + ((M - i + n - 1) // n) * per_market
        return need

    def pick_amount(self, wallet):
        if self.rng.chance(0.03):
            amount = self.rng.between(100, 400) * 10 ** 9 + self.rng.below(10 ** 9)
        else:
            amount = self.rng.log_uniform(self.min_bet, 20 * 10 ** 9)
        # keep what the remaining bets and claims may need (at least 0.05 SOL):
        # large draws shrink to what the wallet can spare, down to the minimum bet
        reserve = max(50_000_000, self.wallet_reserve(self.bets_left))
        room = self.w.lamports[wallet] - reserve
        return max(self.min_bet, min(amount, room))

    def placed(self, n):
        self.bets_left = max(0, self.bets_left - n)

    def position_key(self, user, market):
        return self.w.key("position/%s/%s" % (b58encode(user), b58encode(market)))

    def bet_ix(self, user, market, side, amount, **opts):
        accts = {"global_config": self.config, "market": market["key"],
                 "position": self.position_key(user, market["key"]),
                 "vault": market["yes_vault"] if side == "Yes" else market["no_vault"],
                 "platform_treasury": self.platform, "user": user}
        extra = None
        if opts.get("emit_cpi"):
            extra = [Meta(self.event_authority), Meta(self.w.program)]
        return cb_ix(self.w, "place_bet", accts, {"side": side, "amount": amount}, extra, **opts)

    def pick_side(self, market):
        return "Yes" if self.rng.below(1000) < market["p_yes"] else "No"

    # ---- actions
    def do_init(self):
        ix = cb_ix(self.w, "initialize_config",
                   {"global_config": self.config, "authority": self.admin,
                    "platform_treasury": self.platform},
                   {"platform_fee_bps": 250, "min_market_duration": 3600,
                    "max_market_duration": 365 * 86400, "min_bet_amount": self.min_bet,
                    "max_bet_amount": self.max_bet})
        self.chain.submit(self.admin, [ix], "initialize_config")

    def do_create_market(self, i):
        w = self.w
        authority = self.creators[i % len(self.creators)]
        cfg = w.acc[self.config]["value"]
        market_id = cfg["total_markets_created"] + 1
        key = w.key("market/%d/%s" % (market_id, b58encode(authority)))
        title, desc, cat, uri = market_strings(i)
        mtype = "Degen" if i % 2 == 0 else "Stable"
        m = {"index": i, "key": key, "authority": authority, "market_id": market_id,
             "yes_vault": w.key("vault/yes/%s" % b58encode(key)),
             "no_vault": w.key("vault/no/%s" % b58encode(key)),
             "resolver": self.resolver if i % 2 == 0 else authority,
             "oracle": w.key("oracle/%s" % b58encode(key)),
             "p_yes": self.rng.between(250, 750)}
        oracle_source = None if i % 3 == 1 else w.key("feed/%d" % i)
        args = {"market_id": market_id, "title": title, "description": desc, "category": cat,
                "resolution_time": self.args.start_time + 86400 * (7 + i) + 3600 * (i % 24),
                "market_type": mtype, "oracle_source": oracle_source, "metadata_uri": uri}
        accts = {"global_config": self.config, "market": key, "authority": authority,
                 "accepted_mint": NATIVE_MINT if mtype == "Degen" else USDC_MINT,
                 "yes_vault": m["yes_vault"], "no_vault": m["no_vault"], "resolver": m["resolver"]}
        # the second market is allocated MARKET_TAIL bytes larger than its layout
        # and its spare bytes are written (fields a later program version
        # appends): decoders read the layout and ignore the rest
        tail = b""
        if i == 1:
            tail = bytes([1]) + struct.pack("<Q", 2) + sha256(self.seed, "/market-tail/", str(i))[:MARKET_TAIL - 9]
        ix = cb_ix(w, "create_market", accts, args, tail=tail)
        self.markets.append(m)
        return self.chain.submit(authority, [ix], "create_market")

    def do_bet(self):
        user = self.pick_wallet()
        market = self.rng.choice(self.active_markets())
        side = self.pick_side(market)
        ix = self.bet_ix(user, market, side, self.pick_amount(user))
        rec = self.chain.submit(user, [ix], "place_bet")
        self.placed(1)
        return rec

    def do_failed_bet(self):
        user = self.pick_wallet()
        market = self.rng.choice(self.active_markets())
        ix = self.bet_ix(user, market, self.pick_side(market), self.min_bet - 1)
        rec = self.chain.submit(user, [ix], "failed place_bet", expect_fail=True)
        self.note("failed_place_bet", rec)

    def do_failed_multi(self):
        """place_bet (logs its BetPlaced event), then a place_bet below the
        minimum: the whole transaction fails and is rolled back."""
        user = self.pick_wallet()
        market = self.rng.choice(self.active_markets())
        side = self.pick_side(market)
        ixs = [self.bet_ix(user, market, side, self.pick_amount(user)),
               self.bet_ix(user, market, "No" if side == "Yes" else "Yes", self.min_bet - 1)]
        rec = self.chain.submit(user, ixs, "place_bet then a failing place_bet", expect_fail=True)
        self.note("failed_after_event", rec)

    def do_multi(self):
        user = self.pick_wallet()
        act = self.active_markets()
        if len(act) >= 2:
            i = self.rng.below(len(act))
            j = (i + 1 + self.rng.below(len(act) - 1)) % len(act)
            pairs = [(act[i], "Yes"), (act[j], "No")]
        else:
            pairs = [(act[0], "Yes"), (act[0], "No")]
        ixs = [compute_budget_limit(400_000), compute_budget_price(10_000)]
        for market, side in pairs:
            ixs.append(self.bet_ix(user, market, side, max(self.min_bet, self.pick_amount(user) // 2)))
        rec = self.chain.submit(user, ixs, "compute budget + two place_bet")
        self.placed(2)
        self.note("multi_instruction", rec)

    def do_router(self):
        user = self.pick_wallet()
        market = self.rng.choice(self.active_markets())
        side = self.pick_side(market)
        amount = self.pick_amount(user)
        inner = self.bet_ix(user, market, side, amount)
        metas = [Meta(m.key, m.signer, m.writable) for m in inner.metas] + [Meta(self.w.program)]
        data = sha256("global:route_bet")[:8] + bytes([0 if side == "Yes" else 1]) + \
            struct.pack("<Q", amount)
        ix = Ix(self.router, metas, data, "router", opts={"inner": inner})
        rec = self.chain.submit(user, [ix], "router CPI into place_bet")
        self.placed(1)
        self.note("cpi_router", rec)

    def do_v0(self):
        user = self.pick_wallet()
        market = self.rng.choice(self.active_markets())
        side = self.pick_side(market)
        ix = self.bet_ix(user, market, side, self.pick_amount(user))
        table_key = self.w.key("lookup-table/%s" % b58encode(market["key"]))
        table = [SYSTEM_PROGRAM, self.config, self.platform, market["key"], market["yes_vault"],
                 market["no_vault"], self.position_key(user, market["key"])]
        rec = self.chain.submit(user, [ix], "v0 place_bet via address lookup table",
                                alt=(table_key, table))
        self.placed(1)
        self.note("v0_lookup_table", rec)

    def do_emit_cpi(self):
        user = self.pick_wallet()
        market = self.rng.choice(self.active_markets())
        side = self.pick_side(market)
        ixs = [compute_budget_limit(600_000),
               self.bet_ix(user, market, side, self.pick_amount(user), emit_cpi=True, verbose=True)]
        rec = self.chain.submit(user, ixs, "emit_cpi place_bet, logs truncated")
        self.placed(1)
        self.note("emit_cpi_log_truncated", rec)

    def do_oracle(self, market, n):
        w = self.w
        assets = ["BTC/USD", "ETH/USD", "SOL/USD", "FED/RATE"]
        source = ["pyth:", "switchboard:", "manual:"][n % 3] + assets[market["index"] % 4]
        price = 10_000 + self.rng.below(120_000)
        value = "%d.%02d" % (price, self.rng.below(100))
        args = {"source": source, "value": value,
                "timestamp": self.clock.current["time"] - self.rng.below(30) if self.clock.current
                else self.args.start_time,
                "confidence": self.rng.between(60, 100),
                "signature": hashlib.sha512(("%s/oracle-sig/%d/%d" % (
                    self.seed, market["index"], n)).encode()).digest()}
        accts = {"oracle_data": market["oracle"], "market": market["key"],
                 "authority": self.oracle_keeper}
        ix = cb_ix(w, "update_oracle", accts, args)
        return self.chain.submit(self.oracle_keeper, [ix], "update_oracle")

    def do_resolve(self, market, result):
        ix = cb_ix(self.w, "resolve_market",
                   {"market": market["key"], "oracle_data": market["oracle"],
                    "resolver": market["resolver"]}, {"result": result})
        return self.chain.submit(market["resolver"], [ix], "resolve_market")

    def do_cancel(self, market):
        ix = cb_ix(self.w, "cancel_market",
                   {"market": market["key"], "authority": market["authority"]}, {})
        return self.chain.submit(market["authority"], [ix], "cancel_market")

    def claim_ix(self, market, user, kind, close=False):
        w = self.w
        mv = w.acc[market["key"]]["value"]
        pv = w.acc[self.position_key(user, market["key"])]["value"]
        if kind == "claim_winnings":
            yes = mv["resolution_result"]
            vault, extra = (market["yes_vault"], [market["no_vault"]]) if yes else \
                (market["no_vault"], [market["yes_vault"]])
        else:
            vaults = ([market["yes_vault"]] if pv["yes_shares"] else []) + \
                ([market["no_vault"]] if pv["no_shares"] else [])
            vault, extra = vaults[0], vaults[1:]
        accts = {"market": market["key"], "position": self.position_key(user, market["key"]),
                 "vault": vault, "user": user}
        return cb_ix(w, kind, accts, {}, [Meta(k, False, True) for k in extra], remaining=extra,
                     close=close)

    # ---- the days preset: a few markets over several UTC days
    def run_days(self):
        """Bets crossing two UTC midnights, a day without bets, a market
        resolved mid-day (bets before and after it that day), a market
        cancelled mid-day, failed bets, closing claims; the tip is past the
        last midnight with no transaction after it."""
        rng = self.rng
        day0 = self.args.start_time - self.args.start_time % 86400

        def at(day, hours, minutes=0, seconds=0):
            self.clock.jump_to(day0 + day * 86400 + hours * 3600 + minutes * 60 + seconds)

        def bet(wi, m, side):
            user = self.wallets[wi % len(self.wallets)]
            amount = rng.log_uniform(self.min_bet, 8 * 10 ** 9)
            return self.chain.submit(user, [self.bet_ix(user, m, side, amount)], "place_bet")

        def claim_all(m, kind):
            n = 0
            for key in list(self.w.order):
                acc = self.w.acc.get(key)
                if acc is None or acc["type"] != "Position" or acc["value"]["market"] != m["key"]:
                    continue
                pv, mv = acc["value"], self.w.acc[m["key"]]["value"]
                shares = pv["yes_shares"] + pv["no_shares"] if kind == "claim_refund" else \
                    (pv["yes_shares"] if mv["resolution_result"] else pv["no_shares"])
                if not shares:
                    continue
                close = n % 2 == 0
                rec = self.chain.submit(pv["user"], [self.claim_ix(m, pv["user"], kind, close=close)],
                                        kind)
                if close:
                    self.note("claim_close", rec)
                n += 1

        at(0, 20, 0)
        self.do_init()
        for i in range(3):
            self.do_create_market(i)
        A, B, C = self.markets
        at(0, 21, 10)
        bet(0, A, "Yes")
        at(0, 22, 30)
        bet(2, B, "Yes")
        user = self.wallets[3]
        rec = self.chain.submit(user, [self.bet_ix(user, A, "Yes", self.min_bet - 1)],
                                "failed place_bet", expect_fail=True)
        self.note("failed_place_bet", rec)
        at(0, 23, 40)
        bet(1, B, "No")
        at(1, 0, 20)                    # first midnight
        bet(0, A, "No")
        bet(4, C, "Yes")
        at(1, 8, 0)
        self.do_oracle(B, 0)
        at(1, 12, 15)                   # B resolved mid-day
        rec = self.do_resolve(B, True)
        self.note("resolved_mid_day", rec)
        at(1, 12, 45)
        bet(3, A, "No")
        at(1, 13, 0)
        claim_all(B, "claim_winnings")
        at(1, 17, 0)
        user = self.wallets[5]
        ixs = [self.bet_ix(user, C, "No", rng.log_uniform(self.min_bet, 8 * 10 ** 9)),
               self.bet_ix(user, C, "Yes", self.min_bet - 1)]
        rec = self.chain.submit(user, ixs, "place_bet then a failing place_bet", expect_fail=True)
        self.note("failed_after_event", rec)
        at(1, 23, 50)
        bet(0, C, "No")
        at(2, 0, 10)                    # second midnight
        bet(1, C, "Yes")
        at(3, 12, 0)                    # day 3: no bets, one oracle update
        self.do_oracle(A, 1)
        at(4, 9, 0)
        bet(4, C, "Yes")
        at(4, 15, 30)                   # C cancelled mid-day
        self.do_cancel(C)
        at(4, 16, 0)
        claim_all(C, "claim_refund")
        at(4, 21, 0)
        bet(0, A, "No")
        at(5, 0, 0, 30)                 # the tip: past midnight, no transaction
        self.clock.close()
        self.clock.produce()
        self.clock.produce()

    # ---- the whole life
    def run(self):
        a, rng = self.args, self.rng
        if a.preset == "days":
            return self.run_days()
        M = max(1, a.markets)
        fixed = ["resolve_yes", "cancel", "resolve_no", "active"]
        for i in range(M):
            if i < len(fixed):
                self.fates.append(fixed[i])
            else:
                r = rng.below(100)
                self.fates.append("resolve_yes" if r < 25 else "resolve_no" if r < 50
                                  else "cancel" if r < 65 else "active")
        self.do_init()
        n_first = max(min(M, 2), (M + 1) // 2)
        for i in range(n_first):
            self.do_create_market(i)

        specials = ["failed_bet", "multi", "router", "v0", "emit_cpi", "failed_multi"]
        special_bets = {"multi": 2, "router": 1, "v0": 1, "emit_cpi": 1, "failed_bet": 0,
                        "failed_multi": 0}
        budget = a.bets
        chosen = []
        for s in specials:
            if special_bets[s] <= budget:
                chosen.append(s)
                budget -= special_bets[s]
        regular = budget
        late = min(4, regular // 20)
        regular -= late
        phase = ["bet"] * regular
        # remaining market creations spread over the betting phase
        rest = list(range(n_first, M))
        for k, i in enumerate(rest):
            pos = (k + 1) * len(phase) // (len(rest) + 1)
            phase.insert(pos, ("market", i))
        fractions = {"failed_bet": 10, "multi": 30, "router": 45, "v0": 60, "emit_cpi": 75,
                     "failed_multi": 85}
        for s in chosen:
            phase.insert(fractions[s] * len(phase) // 100, s)
        for step in phase:
            if step == "bet":
                self.do_bet()
            elif isinstance(step, tuple):
                self.do_create_market(step[1])
            else:
                getattr(self, "do_" + step)()

        # oracle updates, resolutions and cancellations, with a few late bets
        queues = []
        for m, fate in zip(self.markets, self.fates):
            q = []
            if fate.startswith("resolve"):
                q.append(("oracle", m, 0))
                if not any(f.startswith("resolve") for f in self.fates[:m["index"]]):
                    q.append(("oracle", m, 1))   # the first resolved market: updated twice
                q.append(("resolve", m, fate == "resolve_yes"))
            elif fate == "cancel":
                q.append(("cancel", m, None))
            elif fate == "active" and not any(f == "active" for f in self.fates[:m["index"]]):
                q.append(("oracle", m, 0))
            if q:
                queues.append(q)
        for _ in range(late):
            queues.append([("late_bet", None, None)])
        while queues:
            qi = rng.below(len(queues))
            kind, m, arg = queues[qi].pop(0)
            if not queues[qi]:
                queues.pop(qi)
            if kind == "oracle":
                self.do_oracle(m, arg)
            elif kind == "resolve":
                self.do_resolve(m, arg)
            elif kind == "cancel":
                self.do_cancel(m)
            elif kind == "late_bet" and self.active_markets():
                self.do_bet()

        # claims
        claims = []
        for m in self.markets:
            mv = self.w.acc[m["key"]]["value"]
            if mv["state"] not in ("Resolved", "Cancelled"):
                continue
            first = True
            for key, acc in self.w.acc.items():
                if acc["type"] != "Position" or acc["value"]["market"] != m["key"]:
                    continue
                pv = acc["value"]
                if mv["state"] == "Resolved":
                    shares = pv["yes_shares"] if mv["resolution_result"] else pv["no_shares"]
                    kind = "claim_winnings"
                else:
                    shares = pv["yes_shares"] + pv["no_shares"]
                    kind = "claim_refund"
                if shares:
                    claims.append((m, pv["user"], kind, first))
                    first = False
        if len(claims) > 8:
            # some winners never claim (the first claim of each market always happens)
            claims = [c for c in claims if c[3] or rng.chance(0.85)]
        claims = [c[:3] for c in claims]
        rng.shuffle(claims)
        double_done = False
        v0_close_done = False
        for n, (m, user, kind) in enumerate(claims):
            doubled = not double_done and (kind == "claim_winnings" or
                                           all(k != "claim_winnings" for _, _, k in claims))
            # claims close their Position (`close = user`), except every fourth
            # one and the one claimed twice (an older build: the Position stays,
            # claimed)
            close = not doubled and n % 4 != 3
            ix = self.claim_ix(m, user, kind, close=close)
            if close and not v0_close_done:
                # the closed Position (and the market, vaults) loaded from an
                # address lookup table
                table_key = self.w.key("lookup-table/claims/%s" % b58encode(m["key"]))
                table = [SYSTEM_PROGRAM, m["key"], m["yes_vault"], m["no_vault"],
                         self.position_key(user, m["key"])]
                rec = self.chain.submit(user, [ix], "v0 %s closing a looked-up Position" % kind,
                                        alt=(table_key, table))
                self.note("v0_claim_close", rec)
                v0_close_done = True
            else:
                rec = self.chain.submit(user, [ix], kind)
                if close:
                    self.note("claim_close", rec)
            if kind == "claim_winnings":
                self.note("claim_winnings", rec)
            if doubled:
                again = self.claim_ix(m, user, kind)
                rec2 = self.chain.submit(user, [compute_budget_limit(200_000), again],
                                         "second %s (AlreadyClaimed)" % kind, expect_fail=True)
                self.note("failed_double_claim", rec2)
                double_done = True
        # a couple of empty blocks at the tip
        self.clock.close()
        self.clock.produce()
        self.clock.produce()


# --------------------------------------------------------------------------
# Rendering in the RPC wire formats

def render_message(rec):
    msg = {
        "accountKeys": [b58encode(k) for k in rec.static_keys],
        "header": rec.header,
        "instructions": [{"accounts": accs, "data": b58encode(data), "programIdIndex": p,
                          "stackHeight": None} for p, accs, data in rec.ixs],
        "recentBlockhash": b58encode(rec.blockhash),
    }
    if rec.version == 0:
        msg["addressTableLookups"] = [{"accountKey": b58encode(t), "readonlyIndexes": r,
                                       "writableIndexes": w} for t, w, r in rec.lookups]
    return msg


def render_meta(rec):
    return {
        "err": rec.err,
        "status": {"Ok": None} if rec.err is None else {"Err": rec.err},
        "fee": rec.fee,
        "preBalances": rec.pre,
        "postBalances": rec.post,
        "innerInstructions": [
            {"index": top, "instructions": [
                {"accounts": accs, "data": b58encode(data), "programIdIndex": p, "stackHeight": st}
                for p, accs, data, st in rec.inner[top]]}
            for top in sorted(rec.inner) if rec.inner[top]],
        "logMessages": rec.logs,
        "preTokenBalances": [],
        "postTokenBalances": [],
        "rewards": [],
        "loadedAddresses": {"writable": [b58encode(k) for k in rec.loaded_w],
                            "readonly": [b58encode(k) for k in rec.loaded_r]},
        "computeUnitsConsumed": rec.cu,
    }


def render_tx_body(rec, encoding):
    if encoding == "base64":
        return [b64(serialize_tx(rec)), "base64"]
    return {"message": render_message(rec), "signatures": [b58encode(rec.sig)]}


def render_get_transaction(rec, encoding):
    return {"slot": rec.slot, "transaction": render_tx_body(rec, encoding),
            "meta": render_meta(rec), "version": rec.version, "blockTime": rec.block_time}


def account_json(data, lamports, space, owner):
    return {"data": [b64(data), "base64"], "executable": False, "lamports": lamports,
            "owner": b58encode(owner), "rentEpoch": RENT_EPOCH, "space": space}


def make_vote_record(sc, block, identity_lamports):
    """The block's vote transaction (legacy, like the real sample)."""
    rec = TxRecord()
    rec.sig = sc.chain.new_signature()
    rec.slot, rec.block_time = block["slot"], block["time"]
    identity, vote = sc.w.key("validator-identity"), sc.w.key("validator-vote-account")
    rec.static_keys = [identity, vote, VOTE_PROGRAM]
    rec.keys = list(rec.static_keys)
    rec.header = {"numReadonlySignedAccounts": 0, "numReadonlyUnsignedAccounts": 1,
                  "numRequiredSignatures": 1}
    rec.blockhash = block["prev_hash"]
    # TowerSync (vote instruction 14): lockouts, root, bank hash, block id elided
    data = struct.pack("<I", 14) + struct.pack("<Q", block["parent"]) + \
        sha256(sc.seed, "/vote/", str(block["slot"]))[:24]
    rec.ixs = [(2, [1, 0], data)]
    rec.fee = 5000
    rec.pre = [identity_lamports, 27_074_400, 1]
    rec.post = [identity_lamports - 5000] + rec.pre[1:]
    rec.logs = ["Program Vote111111111111111111111111111111111111111 invoke [1]",
                "Program Vote111111111111111111111111111111111111111 success"]
    rec.cu = 2100
    return rec


def paginate(entries, limit):
    """getSignaturesForAddress pages, newest first, with one duplicate: at the
    first page boundary that falls inside a slot, the next page repeats the
    previous page's second-to-last signature (the order of signatures within
    a slot is not stable between calls); otherwise one signature of a
    two-transaction slot is repeated inside its page."""
    pages, i, dup = [], 0, None
    while True:
        page = []
        if dup is None and pages:
            prev = pages[-1]
            if len(prev) >= 2 and prev[-1]["slot"] == prev[-2]["slot"]:
                page.append(prev[-2])
                dup = prev[-2]["signature"]
        take = limit - len(page)
        page += entries[i:i + take]
        i += take
        pages.append(page)
        if len(page) < limit:
            break
    if dup is None:
        seq = list(entries)
        for j in range(len(seq) - 1):
            if seq[j]["slot"] == seq[j + 1]["slot"]:
                seq.insert(j + 2, seq[j])
                dup = seq[j]["signature"]
                break
        else:
            if seq:
                seq.insert(1, seq[0])
                dup = seq[0]["signature"]
        pages = [seq[k:k + limit] for k in range(0, len(seq), limit)]
        if not pages or len(pages[-1]) == limit:
            pages.append([])
    return pages, dup


ACCOUNT_TABLE = {"GlobalConfig": "platform_config", "Market": "markets_cache",
                 "Position": "positions_cache", "Treasury": "treasuries_cache",
                 "OracleData": "oracle_data_cache"}


def table_row(name, key, v, slot, resolved_at, closed_at=None, closed_slot=None):
    """The cache table row an account state maps to (schema/001_core.sql
    column names; NUMERIC as decimal strings, integers as numbers), with
    closed_at_unix / closed_slot (null while the account exists)."""
    row = table_row_fields(name, key, v, slot, resolved_at)
    row["closed_at_unix"], row["closed_slot"] = closed_at, closed_slot
    return row


def table_row_fields(name, key, v, slot, resolved_at):
    pk = b58encode(key)
    if name == "GlobalConfig":
        return {"config_pubkey": pk, "authority_pubkey": b58encode(v["authority"]),
                "platform_fee_bps": v["platform_fee_bps"],
                "min_market_duration": v["min_market_duration"],
                "max_market_duration": v["max_market_duration"],
                "min_bet_amount": str(v["min_bet_amount"]), "max_bet_amount": str(v["max_bet_amount"]),
                "platform_treasury": b58encode(v["platform_treasury"]), "is_paused": v["is_paused"],
                "total_markets_created": str(v["total_markets_created"]),
                "total_volume": str(v["total_volume"]), "version": v["version"], "bump": v["bump"],
                "sync_slot": slot}
    if name == "Market":
        return {"market_pubkey": pk, "market_id": str(v["market_id"]),
                "authority_pubkey": b58encode(v["authority"]), "title": v["title"],
                "description": v["description"], "category": v["category"],
                "market_type": v["market_type"].lower(), "created_at_unix": v["created_at"],
                "resolution_time_unix": v["resolution_time"], "resolved_at_unix": resolved_at,
                "state": v["state"].lower(), "resolution_result": v["resolution_result"],
                "yes_pool": str(v["yes_pool"]), "no_pool": str(v["no_pool"]),
                "total_volume": str(v["total_volume"]), "total_participants": v["total_participants"],
                "accepted_mint": b58encode(v["accepted_mint"]), "yes_vault": b58encode(v["yes_vault"]),
                "no_vault": b58encode(v["no_vault"]), "resolver_pubkey": b58encode(v["resolver"]),
                "oracle_source": b58encode(v["oracle_source"]) if v["oracle_source"] else None,
                "metadata_uri": v["metadata_uri"], "creation_fee": str(v["creation_fee"]),
                "bump": v["bump"], "sync_slot": slot}
    if name == "Position":
        return {"position_pubkey": pk, "user_pubkey": b58encode(v["user"]),
                "market_pubkey": b58encode(v["market"]), "yes_shares": str(v["yes_shares"]),
                "no_shares": str(v["no_shares"]), "total_invested": str(v["total_invested"]),
                "yes_avg_price": fmt9(v["yes_avg_price"]), "no_avg_price": fmt9(v["no_avg_price"]),
                "created_at_unix": v["created_at"], "updated_at_unix": v["updated_at"],
                "claimed": v["claimed"], "claimed_amount": str(v["claimed_amount"]),
                "bet_count": v["bet_count"], "bump": v["bump"], "sync_slot": slot}
    if name == "Treasury":
        return {"treasury_pubkey": pk, "market_pubkey": b58encode(v["market"]),
                "mint": b58encode(v["mint"]), "authority_pubkey": b58encode(v["authority"]),
                "total_deposits": str(v["total_deposits"]),
                "total_withdrawals": str(v["total_withdrawals"]),
                "current_balance": str(v["current_balance"]),
                "treasury_type": {"YesPool": "yes_pool", "NoPool": "no_pool",
                                  "Platform": "platform"}[v["treasury_type"]],
                "bump": v["bump"], "sync_slot": slot}
    if name == "OracleData":
        return {"oracle_pubkey": pk, "authority_pubkey": b58encode(v["authority"]),
                "market_pubkey": b58encode(v["market"]), "source": v["source"], "value": v["value"],
                "data_timestamp_unix": v["timestamp"], "confidence": v["confidence"],
                "signature": v["signature"].hex(), "bump": v["bump"], "sync_slot": slot}
    raise RuntimeError(name)


def position_derived(pos, market):
    """positions_cache.current_value / unrealized_pnl / realized_pnl
    (schema/002_derived.sql), exact, as NUMERIC(29,9) text."""
    ys, ns, inv = pos["yes_shares"], pos["no_shares"], pos["total_invested"]
    yp, np_, st = market["yes_pool"], market["no_pool"], market["state"]
    nano = 1_000_000_000
    if st in ("Active", "Paused"):
        if yp + np_ == 0:
            cv = (ys + ns) * nano // 2
        else:
            cv = ((ys * yp + ns * np_) * 2 * nano + (yp + np_)) // ((yp + np_) * 2)
        return fmt9(cv), fmt9(cv - inv * nano), fmt9(0)
    if st == "Resolved":
        w = ys if market["resolution_result"] else ns
        return fmt9(w * nano), fmt9(0), fmt9((w - inv) * nano)
    return fmt9(inv * nano), fmt9(0), fmt9(0)


class JsonlWriter:
    """Streams one JSON document per line to path + ".tmp"; counts per method."""

    def __init__(self, path):
        self.path = path
        self.f = open(path + ".tmp", "w", encoding="utf-8", newline="\n")
        self.bytes = 0
        self.methods = {}
        self.lines = 0

    def write(self, method, obj):
        line = dumps(obj) + "\n"
        self.f.write(line)
        self.bytes += len(line.encode("utf-8"))
        self.methods[method] = self.methods.get(method, 0) + 1
        self.lines += 1

    def commit(self):
        self.f.close()
        os.replace(self.path + ".tmp", self.path)


def build_outputs(sc, args, outdir):
    """Writes rpc.jsonl and ws.jsonl into outdir; returns the other files'
    texts (accounts.json, expected.json, README.md) by name."""
    w, clock, chain = sc.w, sc.clock, sc.chain
    program = w.program
    tip = clock.order[-1]
    ctx = {"apiVersion": API_VERSION, "slot": tip}
    records = chain.records
    heights = {s: clock.blocks[s]["height"] for s in clock.order}
    for rec in records:
        for row in rec.rows:
            row["block_height"] = heights[rec.slot]

    rpc = JsonlWriter(os.path.join(outdir, "rpc.jsonl"))
    ws = JsonlWriter(os.path.join(outdir, "ws.jsonl"))

    def add(method, params, result=None, error=None):
        resp = {"error": error} if error is not None else {"result": result}
        rpc.write(method, {"request": {"method": method, "params": params}, "response": resp})

    add("getSlot", [{"commitment": "confirmed"}], tip)

    # getSignaturesForAddress, newest first
    entries = []
    for rec in reversed(records):
        entries.append({"blockTime": rec.block_time,
                        "confirmationStatus": "finalized" if rec.slot <= tip - 32 else "confirmed",
                        "err": rec.err, "memo": None, "signature": b58encode(rec.sig),
                        "slot": rec.slot})
    limits = [1000]
    if args.sig_page_limit and args.sig_page_limit != 1000:
        limits.append(args.sig_page_limit)
    dups = {}
    for limit in limits:
        pages, dup = paginate(entries, limit)
        dups[limit] = dup
        before = None
        for page in pages:
            cfg = {"limit": limit, "commitment": "confirmed"}
            if before is not None:
                cfg["before"] = before
            add("getSignaturesForAddress", [b58encode(program), cfg], page)
            if page:
                before = page[-1]["signature"]

    encodings = {"json": ["json"], "base64": ["base64"], "mixed": ["json", "base64"]}[args.encoding]
    for rec in records:
        for enc in encodings:
            add("getTransaction",
                [b58encode(rec.sig), {"encoding": enc, "maxSupportedTransactionVersion": 0,
                                      "commitment": "confirmed"}],
                render_get_transaction(rec, enc))

    first, last_tx = clock.start_slot, records[-1].slot
    ranges = []
    for r in ((first, tip), (first, last_tx), (records[0].slot, last_tx)):
        if r not in ranges:
            ranges.append(r)
    for lo, hi in ranges:
        add("getBlocks", [lo, hi, {"commitment": "confirmed"}],
            [s for s in clock.order if lo <= s <= hi])

    identity_lamports = 1_000_000 * 10 ** 9
    full_cfg = {"encoding": "json", "maxSupportedTransactionVersion": 0,
                "transactionDetails": "full", "rewards": False, "commitment": "confirmed"}
    none_cfg = {"transactionDetails": "none", "rewards": False, "commitment": "confirmed"}
    vote_sigs = []
    for s in range(clock.start_slot, tip + 1):
        if s not in clock.blocks:
            err = {"code": -32007,
                   "message": "Slot %d was skipped, or missing due to ledger jump to recent snapshot" % s}
            add("getBlock", [s, full_cfg], error=err)
            add("getBlock", [s, none_cfg], error=err)
            add("getBlockTime", [s], error=err)
            continue
        b = clock.blocks[s]
        head = {"blockHeight": b["height"], "blockTime": b["time"], "blockhash": b58encode(b["hash"]),
                "parentSlot": b["parent"], "previousBlockhash": b58encode(b["prev_hash"])}
        vote = make_vote_record(sc, b, identity_lamports)
        vote_sigs.append(vote.sig)
        identity_lamports -= 5000
        txs = [{"transaction": render_tx_body(r, "json"), "meta": render_meta(r),
                "version": r.version} for r in [vote] + b["txs"]]
        add("getBlock", [s, full_cfg], dict(head, transactions=txs))
        add("getBlock", [s, none_cfg], head)
        add("getBlockTime", [s], b["time"])

    # final account state
    def acc_json(k):
        a = w.acc[k]
        return account_json(w.encode(k), w.lamports[k], a["space"], program)

    all_keys = sorted(w.acc, key=b58encode)
    chunks = [all_keys[i:i + 100] for i in range(0, len(all_keys), 100)]
    missing = w.key("never-created-account")
    closed_keys = [k for k in w.order if k in w.closed]
    probe = [k for k in all_keys if w.acc[k]["type"] == "Market"][:1] + [missing] + \
        [k for k in all_keys if w.acc[k]["type"] == "Position"][:1] + closed_keys[:2]
    # what a refresh of every account the transactions touched asks for: all
    # program accounts ever created, closed ones included (answered null)
    ever = sorted(w.order, key=b58encode)
    chunks += [ever[i:i + 100] for i in range(0, len(ever), 100)]
    chunks.append(probe)
    seen_chunks = set()
    for ks in chunks:
        sig = tuple(ks)
        if sig in seen_chunks:
            continue
        seen_chunks.add(sig)
        add("getMultipleAccounts",
            [[b58encode(k) for k in ks], {"encoding": "base64", "commitment": "confirmed"}],
            {"context": ctx, "value": [acc_json(k) if k in w.acc else None for k in ks]})
    for tname, disc in w.idl.account_disc.items():
        ks = [k for k in all_keys if w.acc[k]["type"] == tname]
        add("getProgramAccounts",
            [b58encode(program), {"encoding": "base64", "commitment": "confirmed", "withContext": True,
                                  "filters": [{"memcmp": {"offset": 0, "bytes": b58encode(disc)}}]}],
            {"context": ctx, "value": [{"account": acc_json(k), "pubkey": b58encode(k)} for k in ks]})
    one_per_type = []
    for tname in w.idl.account_disc:
        one_per_type += [k for k in all_keys if w.acc[k]["type"] == tname][:1]
    for k in one_per_type + [missing] + closed_keys[:1]:
        add("getAccountInfo", [b58encode(k), {"encoding": "base64", "commitment": "confirmed"}],
            {"context": ctx, "value": acc_json(k) if k in w.acc else None})

    # websocket stream
    by_slot = {}
    for rec in records:
        by_slot.setdefault(rec.slot, []).append(rec)
    hostile = []            # meta.hostile_ws
    hostile_at = {}
    if args.hostile_ws and len(clock.order) >= 6:
        hostile_at = {clock.order[len(clock.order) // 3]: 1, clock.order[2 * len(clock.order) // 3]: 2}
    last_logs, last_prog = None, {}
    for s in clock.order:
        b = clock.blocks[s]
        base = (s - clock.start_slot) * SLOT_MS
        k = 0

        def note(method, result):
            nonlocal k
            ws.write(method, {"at_ms": base + k, "method": method, "params": {"result": result}})
            k += 1

        def bad_note(method, result, slot, what):
            hostile.append({"line": ws.lines + 1, "method": method, "slot": slot,
                            "class": "out_of_range" if slot > I64_MAX else "beyond_tip",
                            "what": what})
            note(method, result)

        root = s - 32
        note("slotNotification", {"parent": b["parent"], "root": root, "slot": s})
        if hostile_at.get(s) == 1:
            big = I64_MAX + 1
            bad_note("slotNotification", {"parent": big - 1, "root": big - 33, "slot": big}, big,
                     "slot 2^63")
            cfg = last_prog.get(b58encode(sc.config))
            if cfg is not None:
                bad_note("programNotification", dict(cfg, context={"slot": big}), big,
                         "the GlobalConfig's current state at slot 2^63")
            if last_logs is not None:
                bad_note("logsNotification", dict(last_logs, context={"slot": U64_MAX}), U64_MAX,
                         "a repeated logsNotification at slot 2^64-1")
        elif hostile_at.get(s) == 2:
            far = tip + 10 ** 9
            bad_note("slotNotification", {"parent": U64_MAX - 1, "root": U64_MAX - 32,
                                          "slot": U64_MAX}, U64_MAX, "slot 2^64-1")
            bad_note("slotNotification", {"parent": far - 1, "root": far - 32, "slot": far}, far,
                     "slot tip + 10^9")
            if last_logs is not None:
                bad_note("logsNotification", dict(last_logs, context={"slot": far}), far,
                         "a repeated logsNotification at slot tip + 10^9")
            cfg = last_prog.get(b58encode(sc.config))
            if cfg is not None:
                bad_note("programNotification", dict(cfg, context={"slot": far}), far,
                         "the GlobalConfig's current state at slot tip + 10^9")
        states = {}
        for rec in by_slot.get(s, []):
            last_logs = {"context": {"slot": s},
                         "value": {"signature": b58encode(rec.sig), "err": rec.err,
                                   "logs": rec.logs}}
            note("logsNotification", last_logs)
            for key, st in rec.post_states.items():
                states.pop(key, None)
                states[key] = st
        for key, (data, lamports, space) in states.items():
            res = {"context": {"slot": s},
                   "value": {"pubkey": b58encode(key),
                             "account": account_json(data, lamports, space, program)}}
            last_prog[b58encode(key)] = res
            note("programNotification", res)

    # accounts.json
    accounts = {}
    for k in all_keys:
        a = w.acc[k]
        accounts[b58encode(k)] = {"lamports": w.lamports[k], "owner": b58encode(program),
                                  "data": b64(w.encode(k)), "space": a["space"],
                                  "executable": False, "rentEpoch": RENT_EPOCH, "slot": a["slot"]}

    # expected.json
    resolved_at = {}
    for rec in records:
        for row in rec.rows:
            if row["transaction_type"] == "resolve_market" and row["status"] == "confirmed" \
                    and row["market_pubkey"] not in resolved_at:
                resolved_at[row["market_pubkey"]] = row["resolved_at_unix"]
    tables = {t: [] for t in ("platform_config", "markets_cache", "positions_cache",
                              "treasuries_cache", "oracle_data_cache")}
    # existing accounts in creation order, then closed ones in closing order
    closed_order = [k for rec in records for k in rec.closed]
    for k in [k for k in w.order if k in w.acc] + closed_order:
        a = w.acc.get(k) or w.closed[k]
        row = table_row(a["type"], k, a["value"], a.get("closed_slot", a["slot"]),
                        resolved_at.get(b58encode(k)), a.get("closed_time"), a.get("closed_slot"))
        if a["type"] == "Position":
            mv = w.acc[a["value"]["market"]]["value"]
            cv, up, rp = position_derived(a["value"], mv)
            row["current_value"], row["unrealized_pnl"], row["realized_pnl"] = cv, up, rp
        tables[ACCOUNT_TABLE[a["type"]]].append(row)
    closed_meta = []
    for rec in records:
        for k in rec.closed:
            closed_meta.append({"pubkey": b58encode(k), "type": w.closed[k]["type"],
                                "signature": b58encode(rec.sig), "closed_slot": rec.slot,
                                "closed_at_unix": rec.block_time,
                                "loaded_address": k in rec.loaded_w})
    trailing = {}
    for k in w.order:
        a = w.acc.get(k) or w.closed[k]
        if a.get("tail"):
            trailing[b58encode(k)] = {"type": a["type"], "space": a["space"],
                                      "layout_space": a["space"] - len(a["tail"]),
                                      "spare_bytes": len(a["tail"])}
    tx_rows = [row for rec in records for row in rec.rows]
    users = set()
    for row in tables["positions_cache"]:
        users.add(row["user_pubkey"])
    for row in tx_rows:
        users.add(row["user_pubkey"])
    same_slot = sorted(s for s, rs in by_slot.items() if len(rs) >= 2)
    meta = {
        "program_id": b58encode(program),
        "seed": args.seed,
        "generator": "tools/gen-fixtures.py",
        "command": args.command_line,
        "start_slot": clock.start_slot,
        "first_tx_slot": records[0].slot,
        "last_tx_slot": last_tx,
        "tip_slot": tip,
        "tip_time_unix": clock.blocks[tip]["time"],
        "account_read_slot": tip,
        "produced_slots": clock.order,
        "skipped_slots": [s for s in clock.skipped if s <= tip],
        "same_slot_tx_slots": same_slot,
        "signature_count": len(records),
        "instruction_rows": len(tx_rows),
        "sig_page_limits": limits,
        "sig_duplicate": {str(k): v for k, v in dups.items()},
        "router_program_id": b58encode(sc.router),
        "event_authority": b58encode(sc.event_authority),
        "special_signatures": sc.specials,
        "closed_accounts": closed_meta,
        "hostile_ws": hostile,
        "trailing_bytes_accounts": trailing,
        "vote_signatures_in_blocks": len(vote_sigs),
    }
    expected = dict(meta=meta, users=[{"wallet_address": u} for u in sorted(users)],
                    transactions=tx_rows, **tables)
    if args.preset == "days":
        expected["market_analytics"] = expected_analytics(records, tables, tx_rows,
                                                          meta["tip_time_unix"])

    rpc.commit()
    ws.commit()
    meta["require_all_specials"] = args.bets >= 5 and args.preset is None
    meta["preset"] = args.preset
    files = {
        "accounts.json": "{\n" + ",\n".join(" %s: %s" % (dumps(k), dumps(v))
                                            for k, v in accounts.items()) + "\n}\n",
        "expected.json": format_expected(expected),
    }
    files["README.md"] = scenario_readme(sc, args, meta, tables, tx_rows, rpc, ws, files)
    return files


# --------------------------------------------------------------------------
# The scenario's README

def scenario_readme(sc, args, meta, tables, tx_rows, rpc, ws, files):
    """rpc, ws: the JsonlWriters (method counts, sizes)."""
    by_type = {}
    for r in tx_rows:
        key = r["transaction_type"] + ("" if r["status"] == "confirmed" else " (failed)")
        by_type[key] = by_type.get(key, 0) + 1
    methods, wsm = rpc.methods, ws.methods
    markets = tables["markets_cache"]
    states = {}
    for m in markets:
        k = m["state"] + ("" if m["resolution_result"] is None else
                          (" yes" if m["resolution_result"] else " no"))
        states[k] = states.get(k, 0) + 1
    L = []
    L.append("# Generated Crypto Bet chain: `%s`" % os.path.basename(os.path.normpath(args.out)))
    L.append("")
    L.append("Generated by `tools/gen-fixtures.py` (do not edit by hand). Regenerate with:")
    L.append("")
    L.append("    %s" % args.command_line)
    L.append("")
    L.append("Check with `python3 tools/gen-fixtures.py --verify %s`." % args.out_rel)
    L.append("")
    L.append("## What happens")
    L.append("")
    L.append("Program `%s`, slots %d..%d (tip %d), %d signatures, %d Crypto Bet instruction rows."
             % (meta["program_id"], meta["start_slot"], meta["last_tx_slot"], meta["tip_slot"],
                meta["signature_count"], meta["instruction_rows"]))
    L.append("")
    L.append("1. `initialize_config`: fee 250 bps, bets from 1000000 lamports up to "
             "`max_bet_amount` = 18446744073709551615 (u64 max).")
    L.append("2. %d markets (%s) with varied strings: multi-byte titles, an empty description, "
             "strings at their maximum byte lengths, quotes/backslashes/newlines, "
             "`oracle_source` None and Some, Degen (SOL) and Stable (USDC) types."
             % (len(markets), ", ".join("%d %s" % (v, k) for k, v in sorted(states.items()))))
    L.append("3. Bets from %d wallets on %d positions; oracle updates; resolutions (yes and no), "
             "cancellations; `claim_winnings` / `claim_refund`." %
             (len({r["user_pubkey"] for r in tables["positions_cache"]}), len(tables["positions_cache"])))
    L.append("")
    L.append("Rows per instruction type: " + ", ".join("%s %d" % kv for kv in sorted(by_type.items())) + ".")
    L.append("")
    L.append("Special cases (signatures also in `expected.json` `meta.special_signatures`):")
    L.append("")
    desc = {
        "failed_place_bet": "place_bet below the minimum: `meta.err` = "
                            "`{\"InstructionError\":[0,{\"Custom\":6001}]}`, log ends with "
                            "`failed: custom program error: 0x1771`; no account changes",
        "failed_double_claim": "a second claim of an already claimed position after a compute-budget "
                               "instruction: `{\"InstructionError\":[1,{\"Custom\":6006}]}`",
        "multi_instruction": "SetComputeUnitLimit + SetComputeUnitPrice (priority fee in `fee`), then "
                             "two place_bet in one signature",
        "cpi_router": "a router program's top-level instruction invokes place_bet: "
                      "`innerInstructions` with `stackHeight` 2 (and 3 for the System transfers), "
                      "nested `invoke [2]` logs; the row's instruction_index is 1",
        "v0_lookup_table": "version 0 transaction: the program's accounts come from an address lookup "
                           "table (`addressTableLookups`, `meta.loadedAddresses`)",
        "emit_cpi_log_truncated": "place_bet emitting BetPlaced with emit_cpi! (self-CPI inner "
                                  "instruction `e445a52e51cb9a1d` + event) from a verbose build whose "
                                  "logs end with `Log truncated`: no `Program data:` line, the event "
                                  "is only in `innerInstructions`",
        "claim_winnings": "claims (first few listed)",
        "claim_close": "claims that close their Position (`close = user`): in `meta.postBalances` the "
                       "Position goes from its rent to 0 and the user receives it; no programNotification, "
                       "account reads answer null; its expected row keeps the last notified state with "
                       "`closed_at_unix`/`closed_slot` of this transaction (first few listed)",
        "v0_claim_close": "a version 0 claim whose closed Position is a loaded address "
                          "(`meta.loadedAddresses.writable`); its balance goes to 0 there",
        "failed_after_event": "place_bet then a place_bet below the minimum in one transaction: the "
                              "first logged its BetPlaced `Program data:` event, the second failed "
                              "(`{\"InstructionError\":[1,{\"Custom\":6001}]}`); both rows failed, "
                              "price null, platform_fee 0",
        "resolved_mid_day": "a market resolved at 12:15 UTC with bets before and after it that day",
    }
    for label, sigs in sc.specials.items():
        shown = sigs[:3] if label in ("claim_winnings", "claim_close") else sigs
        L.append("- `%s`: %s: %s" % (label, desc.get(label, label), ", ".join("`%s`" % s for s in shown)))
    if meta["trailing_bytes_accounts"]:
        L.append("- accounts with non-zero bytes after their IDL layout (allocated larger; served like any "
                 "other, the expected row holds the decoded layout): " + ", ".join(
                     "`%s` (%s, space %d, %d spare bytes)" % (pk, t["type"], t["space"], t["spare_bytes"])
                     for pk, t in meta["trailing_bytes_accounts"].items()))
    if meta["hostile_ws"]:
        L.append("- hostile websocket messages (`meta.hostile_ws`; the tables must not change; no "
                 "checkpoint beyond the node's tip): " + "; ".join(
                     "line %d %s: %s" % (h["line"], h["method"], h["what"]) for h in meta["hostile_ws"]))
    L.append("- closed accounts: %d (`meta.closed_accounts`), %d of them loaded from a lookup table"
             % (len(meta["closed_accounts"]), sum(1 for c in meta["closed_accounts"] if c["loaded_address"])))
    L.append("- skipped slots (getBlock error -32007, no slotNotification): %s"
             % ", ".join(str(s) for s in meta["skipped_slots"]))
    L.append("- slots with two or more program transactions: %s"
             % ", ".join(str(s) for s in meta["same_slot_tx_slots"][:12]))
    for limit, dup in meta["sig_duplicate"].items():
        L.append("- getSignaturesForAddress with limit %s repeats `%s` once" % (limit, dup))
    if meta.get("preset") == "days":
        L.append("")
        L.append("## Days (UTC, by block time)")
        L.append("")
        L.append("Block times jump across quiet periods (slots stay consecutive). Per day: successful "
                 "place_bet rows (amounts), failed rows, other instructions.")
        L.append("")
        L.append("| day | bets | volume | failed rows | other |")
        L.append("|---|---|---|---|---|")
        first = tx_rows[0]["block_time_unix"] // 86400
        last = meta["tip_time_unix"] // 86400
        for d in range(first, last + 1):
            rows = [r for r in tx_rows if r["block_time_unix"] // 86400 == d]
            bets = [r for r in rows if r["transaction_type"] == "place_bet" and r["status"] == "confirmed"]
            other = {}
            for r in rows:
                if r["transaction_type"] != "place_bet" and r["status"] == "confirmed":
                    other[r["transaction_type"]] = other.get(r["transaction_type"], 0) + 1
            L.append("| %s | %d | %d | %d | %s |" % (
                time.strftime("%Y-%m-%d", time.gmtime(d * 86400)), len(bets),
                sum(int(r["amount"]) for r in bets), sum(1 for r in rows if r["status"] == "failed"),
                ", ".join("%s %d" % kv for kv in sorted(other.items())) or "-"))
        L.append("")
        L.append("The tip (slot %d, %s) is past the last midnight with no transaction after it."
                 % (meta["tip_slot"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(meta["tip_time_unix"]))))
    L.append("")
    L.append("## Files")
    L.append("")
    L.append("| file | bytes | content |")
    L.append("|---|---|---|")
    L.append("| `rpc.jsonl` | %d | %s |" % (rpc.bytes,
                                           ", ".join("%s %d" % kv for kv in sorted(methods.items()))))
    L.append("| `ws.jsonl` | %d | %s; `at_ms` = 400 ms per slot since the start slot |"
             % (ws.bytes, ", ".join("%s %d" % kv for kv in sorted(wsm.items()))))
    L.append("| `accounts.json` | %d | final state of every program account: pubkey -> "
             "{lamports, owner, data (base64), space, executable, rentEpoch, slot of last change}; "
             "lets a replay server answer getMultipleAccounts / getAccountInfo for any key order |"
             % len(files["accounts.json"].encode()))
    L.append("| `expected.json` | %d | the rows a complete sync must produce (below) |"
             % len(files["expected.json"].encode()))
    L.append("")
    L.append("Request shapes, the simulated program's rules and every `expected.json` field are "
             "described in `fixtures/README.md` (section Generating).")
    return "\n".join(L) + "\n"




# --------------------------------------------------------------------------
# Verification: an independent reading of the written files

def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def message_view(tx):
    """{"signatures", "message"} of a getTransaction/getBlock "transaction"
    in either encoding (json object or ["<base64>", "base64"]), in the json
    encoding's form."""
    if isinstance(tx, list):
        if len(tx) != 2 or tx[1] != "base64":
            raise ValueError("unknown transaction encoding")
        wire = parse_wire_tx(base64.b64decode(tx[0]))
        msg = {"accountKeys": [b58encode(k) for k in wire["keys"]],
               "header": {"numReadonlySignedAccounts": wire["header"][1],
                          "numReadonlyUnsignedAccounts": wire["header"][2],
                          "numRequiredSignatures": wire["header"][0]},
               "instructions": [{"accounts": a, "data": b58encode(d), "programIdIndex": p,
                                 "stackHeight": None} for p, a, d in wire["instructions"]],
               "recentBlockhash": b58encode(wire["blockhash"])}
        if wire["version"] != "legacy":
            msg["addressTableLookups"] = [{"accountKey": b58encode(t), "readonlyIndexes": r,
                                           "writableIndexes": w} for t, w, r in wire["lookups"]]
        return {"message": msg, "signatures": [b58encode(x) for x in wire["signatures"]]}
    return {"message": tx["message"], "signatures": tx["signatures"]}


def ref_rows(idl, res, sig, block_height):
    """transactions rows derived from a getTransaction json result alone."""
    program = idl.address
    msg, meta = res["transaction"]["message"], res["meta"]
    keys = msg["accountKeys"] + meta["loadedAddresses"]["writable"] + meta["loadedAddresses"]["readonly"]
    inner_by = {ii["index"]: ii["instructions"] for ii in meta["innerInstructions"]}
    flat = []
    for i, ix in enumerate(msg["instructions"]):
        flat.append(ix)
        flat.extend(inner_by.get(i, []))
    events = {}
    ordinal, stack = -1, []
    # a failed transaction was rolled back: its logged events never happened
    for line in ([] if meta["err"] is not None else meta["logMessages"]):
        parts = line.split(" ")
        if len(parts) == 4 and parts[0] == "Program" and parts[2] == "invoke":
            ordinal += 1
            stack.append((parts[1], ordinal))
        elif len(parts) >= 3 and parts[0] == "Program" and (parts[2] == "success" or parts[2] == "failed:"):
            if not stack or stack[-1][0] != parts[1]:
                raise ValueError("%s: unbalanced log stack" % sig)
            stack.pop()
        elif line.startswith("Program data: "):
            if stack and stack[-1][0] == program:
                raw = b"".join(base64.b64decode(p) for p in line[len("Program data: "):].split(" "))
                events.setdefault(stack[-1][1], []).append(raw)
    for j, ix in enumerate(flat):
        if keys[ix["programIdIndex"]] != program or meta["err"] is not None:
            continue
        data = b58decode(ix["data"])
        if data[:8] != EMIT_CPI_TAG:
            continue
        h = ix.get("stackHeight") or 1
        for k in range(j - 1, -1, -1):
            hk = flat[k].get("stackHeight") or 1
            if hk == h - 1:
                if keys[flat[k]["programIdIndex"]] != program:
                    raise ValueError("%s: emit_cpi from a foreign program" % sig)
                events.setdefault(k, []).append(data[8:])
                break
    rows = []
    failed = meta["err"] is not None
    for j, ix in enumerate(flat):
        if keys[ix["programIdIndex"]] != program:
            continue
        data = b58decode(ix["data"])
        if data[:8] == EMIT_CPI_TAG:
            continue
        name, args = idl.decode_instruction(data)
        names = [a["name"] for a in idl.instructions[name]["accounts"]]
        accs = {n: keys[i] for n, i in zip(names, ix["accounts"])}
        evs = [idl.decode_event(b) for b in events.get(j, [])]
        if len(evs) > 1:
            raise ValueError("%s: several events for one instruction" % sig)
        ev_name, ev = evs[0] if evs else (None, None)
        role = {"place_bet": "user", "claim_winnings": "user", "claim_refund": "user",
                "resolve_market": "resolver"}.get(name, "authority")
        amount = 0
        if name == "place_bet":
            amount = args["amount"]
        elif name in ("claim_winnings", "claim_refund") and ev:
            amount = ev["amount"]
        elif name == "create_market" and ev:
            amount = ev["creation_fee"]
        rows.append({
            "signature": sig, "instruction_index": j, "transaction_type": name,
            "market_pubkey": accs.get("market"), "user_pubkey": accs[role], "amount": str(amount),
            "side": args["side"].lower() if name == "place_bet" else None,
            "price": fmt9(ev["price"]) if ev_name == "BetPlaced" else None,
            "slot": res["slot"], "block_time_unix": res["blockTime"], "block_height": block_height,
            "fee_amount": str(meta["fee"]),
            "platform_fee": str(ev["platform_fee"]) if ev_name == "BetPlaced" else "0",
            "status": "failed" if failed else "confirmed",
            "error_message": dumps(meta["err"]) if failed else None,
            "resolution_result": ev["result"] if ev_name == "MarketResolved" else None,
            "resolved_at_unix": ev["timestamp"] if ev_name == "MarketResolved" else None,
        })
    return rows


def verify_days(expected, bad):
    """The days preset holds what the daily analytics must handle."""
    day = lambda t: t // 86400
    rows = expected["transactions"]
    bets = [r for r in rows if r["transaction_type"] == "place_bet" and r["status"] == "confirmed"]
    bet_days = sorted({day(r["block_time_unix"]) for r in bets})
    if len(bet_days) < 3 or bet_days[-1] - bet_days[0] < 2:
        bad("days: bets do not cross two UTC midnights")
    if not any(d not in bet_days for d in range(bet_days[0], bet_days[-1] + 1)):
        bad("days: no day without bets between the first and the last")
    if not any(r["transaction_type"] == "place_bet" and r["status"] == "failed" for r in rows):
        bad("days: no failed bet")
    mid = False
    for r in rows:
        if r["transaction_type"] == "resolve_market" and r["status"] == "confirmed":
            d, t = day(r["block_time_unix"]), r["block_time_unix"]
            same = [b["block_time_unix"] for b in bets if day(b["block_time_unix"]) == d]
            mid = mid or (any(x < t for x in same) and any(x > t for x in same))
    if not mid:
        bad("days: no market resolved mid-day with bets before and after it that day")
    tip_day = day(expected["meta"]["tip_time_unix"])
    if tip_day <= day(rows[-1]["block_time_unix"]):
        bad("days: the tip is not past the last transaction's day")


def verify(dirpath, idl):
    problems = []

    def bad(msg):
        problems.append(msg)
        if len(problems) <= 30:
            print("verify: " + msg, file=sys.stderr)

    program = idl.address
    rpc, rpc_index = [], {}
    with open(os.path.join(dirpath, "rpc.jsonl"), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
            except ValueError as e:
                bad("rpc.jsonl:%d: %s" % (n, e))
                continue
            key = (rec["request"]["method"], json.dumps(rec["request"].get("params"), sort_keys=True))
            if key in rpc_index:
                bad("rpc.jsonl:%d: request recorded twice" % n)
            rpc_index[key] = rec["response"]
            rpc.append(rec)
    ws = []
    with open(os.path.join(dirpath, "ws.jsonl"), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                ws.append(json.loads(line))
            except ValueError as e:
                bad("ws.jsonl:%d: %s" % (n, e))
    with open(os.path.join(dirpath, "accounts.json"), encoding="utf-8") as f:
        accounts = json.load(f)
    with open(os.path.join(dirpath, "expected.json"), encoding="utf-8") as f:
        expected = json.load(f)
    meta = expected["meta"]
    tip = meta["tip_slot"]

    def lookup(method, params):
        return rpc_index.get((method, json.dumps(params, sort_keys=True)))

    # 1. accounts decode through the IDL and match the expected rows
    decoded = {}
    for pk, a in accounts.items():
        data = base64.b64decode(a["data"])
        if len(data) != a["space"] or a["owner"] != program or a["rentEpoch"] != U64_MAX:
            bad("account %s: space/owner/rentEpoch" % pk)
        try:
            decoded[pk] = idl.decode_account(data, allow_tail=True)
            if any(data[idl.layout_end(data):]) != (pk in meta.get("trailing_bytes_accounts", {})):
                bad("account %s: trailing bytes not as listed in meta.trailing_bytes_accounts" % pk)
        except (IdlError, UnicodeDecodeError) as e:
            bad("account %s: %s" % (pk, e))
    exp_rows = {}
    pk_field = {"platform_config": "config_pubkey", "markets_cache": "market_pubkey",
                "positions_cache": "position_pubkey", "treasuries_cache": "treasury_pubkey",
                "oracle_data_cache": "oracle_pubkey"}
    for table, field in pk_field.items():
        for row in expected[table]:
            exp_rows[row[field]] = (table, row)
    closed_rows = {pk for pk, (_, row) in exp_rows.items() if row.get("closed_slot") is not None}
    if set(exp_rows) - closed_rows != set(accounts):
        bad("expected tables (open rows) and accounts.json list different accounts")
    if closed_rows != {c["pubkey"] for c in meta.get("closed_accounts", [])}:
        bad("closed rows and meta.closed_accounts differ")
    for pk, (name, value) in decoded.items():
        if pk not in exp_rows:
            continue
        table, row = exp_rows[pk]
        if ACCOUNT_TABLE[name] != table:
            bad("%s: %s in table %s" % (pk, name, table))
            continue
        mine = table_row(name, b58decode(pk), value, accounts[pk]["slot"], row.get("resolved_at_unix"))
        if name == "Position":
            market = decoded.get(b58encode(value["market"]))
            if market is None or market[0] != "Market":
                bad("%s: position of an unknown market" % pk)
                continue
            mine["current_value"], mine["unrealized_pnl"], mine["realized_pnl"] = \
                position_derived(value, market[1])
        if mine != row:
            diff = sorted(k for k in set(mine) | set(row) if mine.get(k) != row.get(k))
            bad("%s: expected row differs from the account data in %s" % (pk, diff))
    for m in expected["markets_cache"]:
        if (m["state"] == "resolved") != (m["resolved_at_unix"] is not None):
            bad("%s: resolved_at_unix" % m["market_pubkey"])

    # 2. account reads agree with accounts.json
    def same_account(pk, acc, what):
        ref = accounts.get(pk)
        if ref is None:
            if acc is not None:
                bad("%s: %s returns an unknown account" % (what, pk))
            return
        if acc is None or acc["data"] != [ref["data"], "base64"] or acc["lamports"] != ref["lamports"] \
                or acc["space"] != ref["space"] or acc["owner"] != ref["owner"] \
                or acc["rentEpoch"] != U64_MAX or acc["executable"] is not False:
            bad("%s: %s differs from accounts.json" % (what, pk))

    gpa_types = set()
    for rec in rpc:
        m, p, r = rec["request"]["method"], rec["request"]["params"], rec["response"]
        if m == "getMultipleAccounts":
            if r["result"]["context"] != {"apiVersion": API_VERSION, "slot": tip} or len(p[0]) > 100:
                bad("getMultipleAccounts context/size")
            for pk, acc in zip(p[0], r["result"]["value"]):
                same_account(pk, acc, m)
        elif m == "getAccountInfo":
            same_account(p[0], r["result"]["value"], m)
        elif m == "getProgramAccounts":
            disc = b58decode(p[1]["filters"][0]["memcmp"]["bytes"])
            name = idl.disc_to_account.get(disc)
            gpa_types.add(name)
            got = {v["pubkey"] for v in r["result"]["value"]}
            want = {pk for pk, (n, _) in decoded.items() if n == name}
            if got != want:
                bad("getProgramAccounts %s: wrong account set" % name)
            for v in r["result"]["value"]:
                same_account(v["pubkey"], v["account"], m)
    if gpa_types != set(idl.account_disc):
        bad("getProgramAccounts not recorded for every account type")

    # 3. transactions: both encodings agree; rows re-derived from the recorded form
    sigs = []
    rows_by_sig = {}
    tx_view = {}        # signature -> (slot, message view, meta, version)
    blocks_none = {}
    for rec in rpc:
        if rec["request"]["method"] == "getBlock" and rec["request"]["params"][1]["transactionDetails"] == "none":
            if "result" in rec["response"]:
                blocks_none[rec["request"]["params"][0]] = rec["response"]["result"]
    by_sig = {}
    for rec in rpc:
        m, p, r = rec["request"]["method"], rec["request"]["params"], rec["response"]
        if m == "getTransaction":
            by_sig.setdefault(p[0], {})[p[1]["encoding"]] = r["result"]
    for sig, encs in by_sig.items():
        sigs.append(sig)
        views = {}
        for enc, res in encs.items():
            try:
                views[enc] = message_view(res["transaction"])
            except (ValueError, IndexError, KeyError) as e:
                bad("%s (%s): %s" % (sig, enc, e))
        if len(views) != len(encs):
            continue
        if len({canon(v) for v in views.values()}) != 1 or \
                len({canon((r["meta"], r["slot"], r["blockTime"], r["version"])) for r in encs.values()}) != 1:
            bad("%s: base64 and json encodings disagree" % sig)
        res = next(iter(encs.values()))
        view = next(iter(views.values()))
        if view["signatures"][0] != sig:
            bad("%s: signature mismatch" % sig)
        tx_view[sig] = (res["slot"], view, res["meta"], res["version"])
        try:
            height = blocks_none[res["slot"]]["blockHeight"]
            rows_by_sig[sig] = ref_rows(idl, dict(res, transaction=view), sig, height)
        except (IdlError, ValueError, KeyError) as e:
            bad("%s: %s" % (sig, e))
    if len(set(sigs)) != len(sigs):
        bad("duplicate signatures among getTransaction records")
    exp_by_sig = {}
    for row in expected["transactions"]:
        exp_by_sig.setdefault(row["signature"], []).append(row)
    for sig in sigs:
        if rows_by_sig.get(sig, []) != exp_by_sig.get(sig, []):
            bad("%s: expected transactions rows differ from the recorded transaction" % sig)
    if set(exp_by_sig) - set(sigs):
        bad("expected rows for signatures without a recorded transaction")
    users = {r["user_pubkey"] for r in expected["transactions"]} | \
        {r["user_pubkey"] for r in expected["positions_cache"]}
    if users != {u["wallet_address"] for u in expected["users"]}:
        bad("users table")

    # 4. signature pages: follow the cursor like a client
    for limit in meta["sig_page_limits"]:
        got, before, pages = [], None, 0
        while True:
            cfg = {"limit": limit, "commitment": "confirmed"}
            if before:
                cfg["before"] = before
            resp = lookup("getSignaturesForAddress", [program, cfg])
            if resp is None:
                bad("getSignaturesForAddress limit %d: page %d not recorded" % (limit, pages))
                break
            page = resp["result"]
            pages += 1
            if len(page) > limit:
                bad("getSignaturesForAddress page longer than its limit")
            got += [e["signature"] for e in page]
            if len(page) < limit:
                break
            before = page[-1]["signature"]
        if len(got) != len(set(got)) + 1:
            bad("getSignaturesForAddress limit %d: expected exactly one duplicate" % limit)
        if set(got) != set(sigs):
            bad("getSignaturesForAddress limit %d: signature set differs" % limit)

    # 5. blocks
    produced = meta["produced_slots"]
    prev = None
    for s in range(meta["start_slot"], tip + 1):
        full = lookup("getBlock", [s, {"encoding": "json", "maxSupportedTransactionVersion": 0,
                                       "transactionDetails": "full", "rewards": False,
                                       "commitment": "confirmed"}])
        none = lookup("getBlock", [s, {"transactionDetails": "none", "rewards": False,
                                       "commitment": "confirmed"}])
        if full is None or none is None:
            bad("getBlock %d not recorded" % s)
            continue
        if s not in produced:
            bt = lookup("getBlockTime", [s]) or {}
            if full.get("error", {}).get("code") != -32007 or none.get("error", {}).get("code") != -32007 \
                    or bt.get("error", {}).get("code") != -32007:
                bad("skipped slot %d not answered with -32007" % s)
            continue
        head = {k: v for k, v in full["result"].items() if k != "transactions"}
        if head != none["result"]:
            bad("getBlock %d: full and none headers differ" % s)
        bt = lookup("getBlockTime", [s])
        if bt is None or bt.get("result") != head["blockTime"]:
            bad("getBlockTime %d: not recorded or not the block's time" % s)
        if prev is not None and (none["result"]["parentSlot"] != prev[0] or
                                 none["result"]["blockHeight"] != prev[1] + 1 or
                                 none["result"]["previousBlockhash"] != prev[2]):
            bad("getBlock %d: parent/height chain broken" % s)
        prev = (s, none["result"]["blockHeight"], none["result"]["blockhash"])
        for t in full["result"]["transactions"]:
            keys = t["transaction"]["message"]["accountKeys"] + \
                t["meta"]["loadedAddresses"]["writable"] + t["meta"]["loadedAddresses"]["readonly"]
            if program not in keys:
                continue
            sig = t["transaction"]["signatures"][0]
            one = tx_view.get(sig)
            if one is None or one[0] != s or one[2] != t["meta"] or one[3] != t["version"] or \
                    canon(one[1]) != canon(message_view(t["transaction"])):
                bad("getBlock %d: transaction %s differs from getTransaction" % (s, sig))
    for r in rpc:
        if r["request"]["method"] == "getBlocks":
            lo, hi = r["request"]["params"][:2]
            if r["response"]["result"] != [s for s in produced if lo <= s <= hi]:
                bad("getBlocks %d..%d" % (lo, hi))
    if not meta["skipped_slots"] or not meta["same_slot_tx_slots"]:
        bad("scenario lacks skipped slots or same-slot transactions")

    # 6. websocket stream
    last_at = -1
    last_state = {}
    ws_sigs = []
    ws_slots = []
    hostile_lines = {h["line"] for h in meta.get("hostile_ws", [])}
    for n, item in enumerate(ws, 1):
        if item["at_ms"] <= last_at:
            bad("ws.jsonl:%d: at_ms not increasing" % n)
        last_at = item["at_ms"]
        res = item["params"]["result"]
        if n in hostile_lines:
            continue
        if item["method"] == "slotNotification":
            ws_slots.append(res["slot"])
        elif item["method"] == "logsNotification":
            ws_sigs.append(res["value"]["signature"])
        elif item["method"] == "programNotification":
            acc = res["value"]["account"]
            try:
                idl.decode_account(base64.b64decode(acc["data"][0]), allow_tail=True)
            except (IdlError, UnicodeDecodeError) as e:
                bad("ws.jsonl:%d: %s" % (n, e))
            last_state[res["value"]["pubkey"]] = (acc, res["context"]["slot"])
        else:
            bad("ws.jsonl:%d: unknown method" % n)
    if ws_slots != produced:
        bad("slotNotification slots differ from the produced slots")
    if sorted(ws_sigs) != sorted(sigs):
        bad("logsNotification signatures differ from the recorded transactions")
    closes = {c["pubkey"]: c for c in meta.get("closed_accounts", [])}
    for pk, (acc, slot) in last_state.items():
        if pk in closes:
            continue
        same_account(pk, acc, "programNotification")
        if accounts.get(pk, {}).get("slot") != slot:
            bad("programNotification %s: last slot %d != accounts.json slot" % (pk, slot))
    if set(last_state) != set(accounts) | set(closes):
        bad("programNotification does not cover every account")

    # 7. closed accounts: the expected row holds the last state the stream
    # showed, closed by a transaction whose balances take the account to 0
    for pk, c in closes.items():
        table, row = exp_rows.get(pk, (None, None))
        if row is None or pk not in last_state:
            bad("closed %s: no expected row or never notified" % pk)
            continue
        acc, slot = last_state[pk]
        name, value = idl.decode_account(base64.b64decode(acc["data"][0]), allow_tail=True)
        mine = table_row(name, b58decode(pk), value, c["closed_slot"], row.get("resolved_at_unix"),
                         c["closed_at_unix"], c["closed_slot"])
        if name == "Position":
            market = decoded.get(b58encode(value["market"]))
            if market is None:
                bad("closed %s: position of an unknown market" % pk)
                continue
            mine["current_value"], mine["unrealized_pnl"], mine["realized_pnl"] = \
                position_derived(value, market[1])
        if mine != row:
            diff = sorted(k for k in set(mine) | set(row) if mine.get(k) != row.get(k))
            bad("closed %s: expected row differs from its last notified state in %s" % (pk, diff))
        if slot >= c["closed_slot"]:
            bad("closed %s: notified at or after its close" % pk)
        one = tx_view.get(c["signature"])
        if one is None:
            bad("closed %s: closing transaction not recorded" % pk)
            continue
        tslot, view, tmeta, _ = one
        keys = view["message"]["accountKeys"] + tmeta["loadedAddresses"]["writable"] + \
            tmeta["loadedAddresses"]["readonly"]
        if tmeta["err"] is not None or tslot != c["closed_slot"] or pk not in keys:
            bad("closed %s: closing transaction does not hold it" % pk)
            continue
        i = keys.index(pk)
        if tmeta["preBalances"][i] == 0 or tmeta["postBalances"][i] != 0:
            bad("closed %s: balances do not go to 0" % pk)
        if c["loaded_address"] != (pk in tmeta["loadedAddresses"]["writable"]):
            bad("closed %s: loaded_address flag" % pk)
        if next(iter(by_sig[c["signature"]].values()))["blockTime"] != c["closed_at_unix"]:
            bad("closed %s: closed_at_unix is not the block time" % pk)
    if closes and not any(c["loaded_address"] for c in closes.values()) and \
            expected["meta"].get("require_all_specials", True):
        bad("no close of a loaded (lookup table) address")

    # 8. balances: one u64 per account key, lamports conserved but the fee, and
    # every account's balance continues from the previous transaction that
    # touched it (blocks in slot order, transactions in block order)
    balance = {}
    for s in produced:
        full = lookup("getBlock", [s, {"encoding": "json", "maxSupportedTransactionVersion": 0,
                                       "transactionDetails": "full", "rewards": False,
                                       "commitment": "confirmed"}])
        if full is None or "result" not in full:
            continue
        for t in full["result"]["transactions"]:
            tm = t["meta"]
            keys = t["transaction"]["message"]["accountKeys"] + tm["loadedAddresses"]["writable"] + \
                tm["loadedAddresses"]["readonly"]
            sig = t["transaction"]["signatures"][0]
            pre, post = tm["preBalances"], tm["postBalances"]
            if len(pre) != len(keys) or len(post) != len(keys) or \
                    not all(isinstance(v, int) and 0 <= v <= U64_MAX for v in pre + post):
                bad("%s: preBalances/postBalances do not match the account keys" % sig)
                continue
            if sum(pre) - sum(post) != tm["fee"]:
                bad("%s: balances change by %d, fee %d" % (sig, sum(pre) - sum(post), tm["fee"]))
            for k, a, b in zip(keys, pre, post):
                if k in balance and balance[k] != a:
                    bad("%s: preBalance of %s is %d, previous postBalance %d" % (sig, k, a, balance[k]))
                balance[k] = b
    for pk, a in accounts.items():
        if balance.get(pk) != a["lamports"]:
            bad("%s: accounts.json lamports differ from the last postBalance" % pk)
    specials = meta["special_signatures"]
    for label in ("failed_place_bet", "multi_instruction", "cpi_router", "v0_lookup_table",
                  "emit_cpi_log_truncated", "failed_after_event", "v0_claim_close", "claim_close"):
        if label in ("claim_close", "v0_claim_close") and len(closes) < 2:
            continue    # too few claims in a tiny scenario for both kinds of close
        if label not in specials and expected["meta"].get("require_all_specials", True):
            bad("special case %s missing" % label)
    if meta.get("preset") == "days":
        verify_days(expected, bad)
    for sig in specials.get("failed_after_event", []):
        logs = tx_view[sig][2]["logMessages"] if sig in tx_view else []
        rows = exp_by_sig.get(sig, [])
        if tx_view.get(sig, (0, 0, {"err": None}))[2]["err"] is None or \
                not any(l.startswith("Program data: ") for l in logs) or len(rows) != 2 or \
                any(r["status"] != "failed" or r["price"] is not None or r["platform_fee"] != "0"
                    for r in rows):
            bad("%s: not a failed transaction with a logged event and two event-less rows" % sig)
    for sig in specials.get("emit_cpi_log_truncated", []):
        logs = tx_view[sig][2]["logMessages"] if sig in tx_view else [""]
        if logs[-1] != "Log truncated" or any(l.startswith("Program data:") for l in logs):
            bad("%s: emit_cpi logs are not truncated as intended" % sig)
    return problems


# --------------------------------------------------------------------------

def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", default="crypto-bet", help="scenario seed (default %(default)s)")
    ap.add_argument("--markets", type=int, default=10)
    ap.add_argument("--wallets", type=int, default=30)
    ap.add_argument("--bets", type=int, default=135,
                    help="successful place_bet instructions, special cases included")
    ap.add_argument("--out", default=os.path.join(root, "fixtures", "chain"))
    ap.add_argument("--start-slot", type=int, default=310_000_000)
    ap.add_argument("--start-height", type=int, default=None,
                    help="block height of the start slot (default start slot - 18000000)")
    ap.add_argument("--start-time", type=int, default=1_735_689_600,
                    help="unix time of the start slot (default 2025-01-01T00:00:00Z)")
    ap.add_argument("--encoding", choices=["json", "base64", "mixed"], default="mixed",
                    help="getTransaction encodings recorded: one, or both (mixed)")
    ap.add_argument("--sig-page-limit", type=int, default=0,
                    help="also record getSignaturesForAddress paged with this limit")
    ap.add_argument("--idl", default=os.path.join(root, "idl", "crypto_bet.json"))
    ap.add_argument("--verify", metavar="DIR", help="check a generated directory and exit")
    ap.add_argument("--no-verify", action="store_true", help="skip the check after generating")
    ap.add_argument("--preset", choices=["days"],
                    help="days: a scenario spread over several UTC days (fixtures/chain-days); "
                         "sets markets, wallets, start time, encoding and page limit")
    ap.add_argument("--no-hostile-ws", dest="hostile_ws", action="store_false",
                    help="leave out the websocket messages with out-of-range and absurd slots")
    args = ap.parse_args(argv)
    idl = Idl(args.idl)

    if args.verify:
        problems = verify(args.verify, idl)
        if problems:
            print("verify: %d problem(s) in %s" % (len(problems), args.verify), file=sys.stderr)
            return 1
        print("verify: %s OK" % args.verify)
        return 0

    if args.markets < 1 or args.wallets < 1 or args.bets < 0:
        ap.error("--markets and --wallets must be at least 1, --bets at least 0")
    if args.sig_page_limit < 0 or args.sig_page_limit > 1000:
        ap.error("--sig-page-limit must be within 1..1000")
    if args.start_height is None:
        args.start_height = max(1, args.start_slot - 18_000_000)
    args.out_rel = os.path.relpath(args.out, root)
    cmd = ["python3 tools/gen-fixtures.py", "--out", args.out_rel]
    defaults = ap.parse_args([])
    if args.preset == "days":
        # 2025-03-01T20:00:00Z, four hours before the first midnight
        preset = {"markets": 3, "wallets": 6, "bets": 0, "start_time": 1_740_859_200,
                  "encoding": "json", "sig_page_limit": 0, "hostile_ws": False}
        for k, v in preset.items():
            setattr(args, k, v)
            setattr(defaults, k, v)
        cmd += ["--preset", "days"]
    for opt in ("seed", "markets", "wallets", "bets", "start_slot", "start_time", "encoding",
                "sig_page_limit"):
        if getattr(args, opt) != getattr(defaults, opt):
            cmd += ["--" + opt.replace("_", "-"), str(getattr(args, opt))]
    if args.hostile_ws != defaults.hostile_ws:
        cmd += ["--no-hostile-ws"]
    if args.start_height != max(1, args.start_slot - 18_000_000):
        cmd += ["--start-height", str(args.start_height)]
    args.command_line = " ".join(cmd)

    sc = Scenario(args, idl)
    sc.run()
    os.makedirs(args.out, exist_ok=True)
    files = build_outputs(sc, args, args.out)
    for name, text in files.items():
        tmp = os.path.join(args.out, name + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, os.path.join(args.out, name))
    total = sum(os.path.getsize(os.path.join(args.out, n))
                for n in list(files) + ["rpc.jsonl", "ws.jsonl"])
    print("wrote %s: %d signatures, %d rows, %d accounts, %d bytes"
          % (args.out, len(sc.chain.records), sum(len(r.rows) for r in sc.chain.records),
             len(sc.w.acc), total))
    if not args.no_verify:
        problems = verify(args.out, idl)
        if problems:
            print("verify: %d problem(s)" % len(problems), file=sys.stderr)
            return 1
        print("verify: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
