#!/bin/sh
# make demo: live sync on this machine with nothing outside it.
#
#   sh deploy/demo.sh [BUILD]
#
# Starts a throwaway PostgreSQL cluster (tests/pg.sh), applies the schema,
# starts the replay server on an ephemeral loopback port streaming the
# recorded Crypto Bet chain (fixtures/chain) at 10x speed, and runs
# `crypto-bet-indexer live` against both until the stream has been quiet
# for 3 s, printing where its metrics are served and the readiness it reached
# (/ready and a few /metrics lines while it runs). Then it prints what landed
# and removes everything it started.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 2
BIN="$BUILD/crypto-bet-indexer"
REPLAY="$BUILD/cbi-replay"
for f in "$BIN" "$REPLAY"; do
  [ -x "$f" ] || { echo "demo: $f is missing: run 'make BUILD=$BUILD' first" >&2; exit 2; }
done

. tests/pg.sh
REPLAY_PID=""
LIVE_PID=""
OUT=""
cleanup() {
  if [ -n "$LIVE_PID" ]; then
    kill "$LIVE_PID" 2>/dev/null
    wait "$LIVE_PID" 2>/dev/null
  fi
  if [ -n "$REPLAY_PID" ]; then
    kill "$REPLAY_PID" 2>/dev/null
    wait "$REPLAY_PID" 2>/dev/null
  fi
  [ -n "$OUT" ] && rm -f "$OUT"
  pg_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting a throwaway PostgreSQL cluster"
pg_start || exit 1
DB="$CBI_TEST_DATABASE_URL"
PSQL="$PG_BIN/psql"
[ -x "$PSQL" ] || PSQL=psql

echo "== applying the schema"
"$BIN" migrate --database-url "$DB" || exit 1

echo "== starting the replay server (fixtures/chain, 10x speed, loopback only)"
OUT=$(mktemp)
"$REPLAY" --dir fixtures/chain --port 0 --speed 10 --ws-slot-heartbeat-ms 400 >"$OUT" 2>/dev/null &
REPLAY_PID=$!
PORT=""
i=0
while [ $i -lt 100 ]; do
  PORT=$(sed -n 's/^listening on \([0-9][0-9]*\).*/\1/p' "$OUT")
  [ -n "$PORT" ] && break
  kill -0 "$REPLAY_PID" 2>/dev/null || break
  sleep 0.1
  i=$((i + 1))
done
[ -n "$PORT" ] || { echo "demo: the replay server did not start" >&2; exit 1; }

# a free loopback port for the operations endpoint
HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 9464)
OPS="http://127.0.0.1:$HTTP_PORT"
echo "== crypto-bet-indexer live (exits 3 s after the stream goes quiet)"
echo "   metrics, health and readiness served at $OPS/metrics $OPS/healthz $OPS/ready"
"$BIN" live --database-url "$DB" --rpc-url "http://127.0.0.1:$PORT/" \
  --ws-url "ws://127.0.0.1:$PORT/" --status-interval 1 --exit-when-idle 3000 \
  --http-listen "127.0.0.1:$HTTP_PORT" &
LIVE_PID=$!
READY=""
SEEN_503=""
i=0
while kill -0 "$LIVE_PID" 2>/dev/null && [ $i -lt 600 ]; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$OPS/ready" 2>/dev/null)
  [ "$code" = 503 ] && SEEN_503=1
  if [ "$code" = 200 ]; then READY=1; break; fi
  sleep 0.05
  i=$((i + 1))
done
if [ -n "$READY" ]; then
  sleep 1
  echo
  echo "== $OPS/ready (while running)"
  curl -s "$OPS/ready"; echo
  echo "== a few lines of $OPS/metrics"
  curl -s "$OPS/metrics" | grep -E '^cbi_(ready|chain_tip_slot|indexed_slot|sink_commits_total|gap_fills_total|notifications_received_total|rows_written_total\{table="(markets_cache|transactions)"\})' 
  echo
else
  echo "demo: live did not report ready while it ran" >&2
fi
wait "$LIVE_PID"
rc=$?
echo "== readiness reached: $([ -n "$READY" ] && echo "ready (/ready 200$([ -n "$SEEN_503" ] && echo ', after 503 while catching up'))" || echo "never")"
if [ $rc -ne 0 ]; then
  echo "demo: live exited with $rc" >&2
  exit $rc
fi

q() { "$PSQL" "$DB" -X -q -P pager=off "$@"; }
echo
echo "== what landed"
q -c "SELECT (SELECT count(*) FROM markets_cache) AS markets,
             (SELECT count(*) FROM positions_cache) AS positions,
             (SELECT count(*) FROM transactions) AS transactions,
             (SELECT count(*) FROM users) AS users,
             (SELECT count(*) FROM dead_letters) AS dead_letters,
             (SELECT slot FROM sync_checkpoints WHERE stream = 'live') AS live_checkpoint"
echo "-- markets"
q -c "SELECT market_id, left(title, 40) AS title, market_type, state, yes_pool, no_pool,
             total_participants AS bettors
        FROM markets_cache ORDER BY market_id LIMIT 5"
echo "-- positions (largest first)"
q -c "SELECT left(position_pubkey, 10) AS position, left(user_pubkey, 10) AS wallet,
             yes_shares, no_shares, total_invested, current_value, realized_pnl
        FROM positions_cache ORDER BY total_invested DESC, position_pubkey LIMIT 5"
echo "-- latest transactions"
q -c "SELECT slot, left(signature, 12) AS signature, instruction_index AS ix, transaction_type,
             amount, side, status
        FROM transactions ORDER BY slot DESC, signature, instruction_index LIMIT 8"
echo "-- today's prices and daily volume (the chain's latest indexed UTC day; the API's"
echo "   listing query reads the same row with CURRENT_DATE in a UTC session)"
q -c "SELECT a.date AS day, m.market_id, left(m.title, 30) AS title, m.state,
             a.yes_price_close AS yes_price, a.no_price_close AS no_price,
             a.daily_volume, a.daily_bets
        FROM analytics_state s
        JOIN market_analytics a ON a.date = cbi_utc_day(s.chain_time_unix)
        JOIN markets_cache m ON m.market_pubkey = a.market_pubkey
       ORDER BY m.market_id LIMIT 10"
echo "-- platform, last 3 days"
q -c "SELECT date, total_users, new_users, active_users, active_markets, total_volume,
             total_transactions AS txs, failed_transactions AS failed, platform_fees_collected
        FROM daily_platform_metrics ORDER BY date DESC LIMIT 3"
echo "== done (cluster and replay server are removed on exit)"
