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
        # program accounts: key -> {"type", "value", "space", "slot"}
        self.acc = {}
        self.space = {n: idl.account_space(n, STRING_MAX.get(n, {})) for n in idl.account_disc}
        for k, v in ((SYSTEM_PROGRAM, 1), (COMPUTE_BUDGET, 1), (VOTE_PROGRAM, 1),
                     (SYSVAR_CLOCK, 1169280), (SYSVAR_SLOT_HASHES, 143487360)):
            self.lamports[k] = v
        self.lamports[self.program] = 1141440

    def key(self, label):
        return sha256(self.seed, "/key/", label)

    def bump(self, key):
        return 255 - key[0] % 5

    def owner_of(self, key):
        return self.program if key in self.acc else SYSTEM_PROGRAM

    def encode(self, key):
        a = self.acc[key]
        return self.idl.encode_account(a["type"], a["value"], a["space"])


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

    def create_account(self, depth, payer, new, type_name, value):
        space = self.w.space[type_name]
        lamports = rent_exempt(space)
        data = struct.pack("<IQQ", 0, lamports, space) + self.w.program
        self.cpi_system(depth, data, [payer, new])
        if new in self.w.acc or self.w.lamports.get(new, 0):
            raise RuntimeError("account already exists")
        self.w.acc[new] = {"type": type_name, "value": value, "space": space, "slot": self.slot}
        self.move(payer, new, lamports)

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
        self.create_account(depth + 1, a["authority"], a["market"], "Market", market)
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
            yes = market["yes_pool"] * (row + 1) // 64
            no = market["no_pool"] * (64 - row) // 64
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
        self.write(a["position"], "Position", position)
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
        self.write(a["position"], "Position", position)
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
        self.label = ""
        self.notes = []


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
    loaded_w, loaded_r, lookups = [], [], []
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

    def blockhash(self, slot):
        return sha256(self.seed, "/blockhash/", str(slot))

    def produce(self):
        s = self.next_slot
        while s != self.start_slot and (s in self.forced_skips or self.rng.chance(0.05)):
            self.skipped.append(s)
            s += 1
        block = {"slot": s, "parent": self.last, "height": self.start_height + len(self.order),
                 "time": self.start_time + (s - self.start_slot) * SLOT_MS // 1000,
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
            self.cap = 0 if r < 12 else 1 if r < 70 else 2 if r < 94 else 3
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
        snapshot = (copy.deepcopy(w.acc), dict(w.lamports)) if expect_fail else None
        if w.lamports.get(payer, 0) < rec.fee:
            raise RuntimeError("payer cannot pay the fee")
        w.lamports[payer] -= rec.fee
        ex = Exec(w, self.rng, rec.slot, rec.block_time, limit)
        ex.cb_calls = {}
        failed = None
        try:
            for i, ix in enumerate(ixs):
                ex.run_top(i, ix)
        except TxFailed as f:
            failed = f
        if (failed is not None) != expect_fail:
            raise RuntimeError("%s: unexpected outcome %r" % (label, failed and failed.code))
        if failed is not None:
            w.acc, w.lamports = snapshot
            w.lamports[payer] -= rec.fee
            rec.err = {"InstructionError": [failed.index, {"Custom": failed.code}]}
            ex.changed = []
            ex.events = []
        rec.logs = ex.logs
        rec.cu = ex.cu_total
        for top, entries in ex.inner.items():
            rec.inner[top] = [(index[e["program"]], [index[k] for k in e["accounts"]], e["data"],
                               e["stack"]) for e in entries]
        rec.post = [w.lamports.get(k, 0) for k in rec.keys]
        for k in ex.changed:
            if k in w.acc:
                rec.post_states[k] = (w.encode(k), w.lamports[k], w.acc[k]["space"])
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
        return row


def fmt9(v):
    """u64/i128 fixed point with 9 decimals as NUMERIC(.., 9) text."""
    sign = "-" if v < 0 else ""
    v = abs(v)
    return "%s%d.%09d" % (sign, v // 1_000_000_000, v % 1_000_000_000)
