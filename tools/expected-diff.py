#!/usr/bin/env python3
"""Lists every difference between a database and a generated scenario's
expected.json (the end-to-end suites stop at the first one).

  tools/expected-diff.py DATABASE_URL fixtures/chain [--read-slot]

Compares the tables expected.json lists as tests/expect.h does (columns as
PostgreSQL ::text, timestamps by their *_unix seconds), and prints the
dead letters and checkpoints. --read-slot: account rows carry
meta.account_read_slot as sync_slot (a backfill or snapshot) and closed
accounts' rows may be absent; otherwise a sync_slot equal to the read slot
is accepted too (live). Needs psql. Exit status 1 when anything differs.
"""
import collections
import json
import subprocess
import sys

KEYS = {"platform_config": ["config_pubkey"], "markets_cache": ["market_pubkey"],
        "positions_cache": ["position_pubkey"], "treasuries_cache": ["treasury_pubkey"],
        "oracle_data_cache": ["oracle_pubkey"], "users": ["wallet_address"],
        "transactions": ["signature", "instruction_index"]}


def expr(table, col):
    if table == "markets_cache" and col == "resolved_at_unix":
        return "extract(epoch FROM resolved_at)::bigint::text"
    if col == "closed_at_unix":
        return "extract(epoch FROM closed_at)::bigint::text"
    if table == "oracle_data_cache" and col == "signature":
        return "encode(signature, 'hex')"
    return col + "::text"


def text(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def main(argv):
    if len(argv) < 2 or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    uri, scen, read_mode = argv[0], argv[1], "--read-slot" in argv[2:]
    exp = json.load(open(scen + "/expected.json", encoding="utf-8"))
    read_slot = str(exp["meta"]["account_read_slot"])

    def query(sql):
        out = subprocess.run(["psql", uri, "-At", "-c", sql], capture_output=True, text=True,
                             check=True).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    diffs = collections.Counter()
    for table, kc in KEYS.items():
        rows = exp[table]
        if not rows:
            continue
        cols = list(rows[0])
        db = query("SELECT row_to_json(x) FROM (SELECT %s FROM %s) x" % (
            ", ".join("%s AS %s" % (expr(table, c), c) for c in cols), table))
        by_key = {tuple(r[k] for k in kc): r for r in db}
        seen = set()
        for row in rows:
            key = tuple(text(row[c]) for c in kc)
            closed = row.get("closed_slot") is not None
            tag = " (closed account)" if closed else ""
            got = by_key.get(key)
            if got is None:
                if not (closed and read_mode):
                    diffs["%s: row missing%s" % (table, tag)] += 1
                continue
            seen.add(key)
            for c in cols:
                want = text(row[c])
                if c == "sync_slot" and not closed:
                    if read_mode:
                        want = read_slot
                    elif got[c] == read_slot:
                        continue
                if got[c] != want:
                    label = "%s.%s differs%s" % (table, c, tag)
                    diffs[label] += 1
                    if diffs[label] <= 2:
                        print("  %s %s .%s: got %r, want %r" % (table, "/".join(key), c, got[c], want))
        extra = set(by_key) - seen
        if extra:
            diffs["%s: rows not in expected.json" % table] += len(extra)
    for d in query("SELECT row_to_json(x) FROM (SELECT kind, key, slot::text, reason, attempts "
                   "FROM dead_letters ORDER BY slot, key) x"):
        print("  dead letter: %s %s slot %s attempts %s: %s" % (d["kind"], d["key"], d["slot"],
                                                               d["attempts"], d["reason"][:160]))
    for cp in query("SELECT row_to_json(x) FROM (SELECT stream, slot::text FROM sync_checkpoints) x"):
        print("  checkpoint %s = %s (tip %d)" % (cp["stream"], cp["slot"], exp["meta"]["tip_slot"]))
    for k, v in sorted(diffs.items()):
        print("DIFF %s: %d" % (k, v))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
