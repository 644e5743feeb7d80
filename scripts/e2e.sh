#!/usr/bin/env bash
# End to end, the way an operator on a plain PostgreSQL host does it:
#   fresh database -> sequelize-cli db:migrate -> db:seed:all (no clients) -> db:seed:demo-clients -> npm start (build, then node)
#   -> wait for /ready -> the Postman collection through newman (0 failures)
#   -> psql reads "Order_Logs" of the order the collection created -> SIGTERM, exit 0 -> drop the database.
# Any failure prints "E2E FAILED at step N: <what>", the service log tail, cleans up and exits non-zero.
#
# Settings (environment):
#   E2E_PG_URL         server to create the database on   (default postgres://postgres@127.0.0.1:5432)
#   PORT, PAYMENT_MOCK_PORT, WAREHOUSE_MOCK_PORT           (defaults 3000, 4001, 4002)
#   E2E_READY_TIMEOUT_S  wait for /ready                   (default 60)
#   E2E_STOP_TIMEOUT_S   wait for exit after SIGTERM       (default 15)
#   E2E_KEEP_DB=1        keep the database (and artifacts) for a look afterwards
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PG_URL="${E2E_PG_URL:-postgres://postgres@127.0.0.1:5432}"
PG_URL="${PG_URL%/}"
HTTP_PORT="${PORT:-3000}"
PAY_PORT="${PAYMENT_MOCK_PORT:-4001}"
WH_PORT="${WAREHOUSE_MOCK_PORT:-4002}"
READY_TIMEOUT_S="${E2E_READY_TIMEOUT_S:-60}"
STOP_TIMEOUT_S="${E2E_STOP_TIMEOUT_S:-15}"
BASE_URL="http://localhost:${HTTP_PORT}"

DB_NAME="orderloop_e2e_$(date +%s)_${RANDOM}${RANDOM}"
DB_URL="${PG_URL}/${DB_NAME}"
ADMIN_URL="${PG_URL}/postgres"
WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/orderloop-e2e.XXXXXX")"
SERVICE_LOG="${WORK_DIR}/service.log"
REPORT="${WORK_DIR}/newman-report.json"

STEP=0
STEP_NAME="preflight"
DB_CREATED=0
SERVICE_PID=""
DONE=0
STARTED_AT=$(date +%s)

STEP_STARTED=$(date +%s%N)
TIMINGS=""
step() {
  local now
  now=$(date +%s%N)
  [[ "$STEP" == 0 && -z "$TIMINGS" && "$1" == 0 ]] || TIMINGS+="${STEP}:$(( (now - STEP_STARTED) / 1000000 ))ms "
  STEP_STARTED=$now
  STEP="$1"
  STEP_NAME="$2"
  echo
  echo "==> step ${STEP}: ${STEP_NAME}"
}

# fail "what went wrong": the EXIT trap reports it with the step, cleans up and exits non-zero.
FAIL_WHAT=""
fail() {
  FAIL_WHAT="$1"
  exit 1
}

psql_admin() {
  psql -X -q -v ON_ERROR_STOP=1 "$ADMIN_URL" "$@"
}

service_alive() {
  [[ -n "$SERVICE_PID" ]] && kill -0 "$SERVICE_PID" 2>/dev/null
}

drop_database() {
  # The service is stopped by now; FORCE (PostgreSQL 13+) also ends any connection left behind.
  psql_admin -c "DROP DATABASE IF EXISTS \"${DB_NAME}\" WITH (FORCE)" 2>/dev/null ||
    psql_admin -c "DROP DATABASE IF EXISTS \"${DB_NAME}\""
}

on_exit() {
  local rc=$?
  set +e
  if [[ "$DONE" == 1 && "$rc" == 0 ]]; then
    rm -rf "$WORK_DIR"
    return
  fi
  [[ "$rc" == 0 ]] && rc=1
  echo
  echo "E2E FAILED at step ${STEP}: ${FAIL_WHAT:-${STEP_NAME} (a command failed with exit code ${rc})}" >&2
  if service_alive; then
    echo "--- stopping the service (pid ${SERVICE_PID})" >&2
    kill -TERM "$SERVICE_PID" 2>/dev/null
    for _ in $(seq 1 40); do service_alive || break; sleep 0.25; done
    service_alive && kill -KILL "$SERVICE_PID" 2>/dev/null
    wait "$SERVICE_PID" 2>/dev/null
  fi
  if [[ -s "$SERVICE_LOG" ]]; then
    echo "--- service log (last 60 lines of ${SERVICE_LOG})" >&2
    tail -n 60 "$SERVICE_LOG" >&2
    echo "---" >&2
  fi
  if [[ "$DB_CREATED" == 1 ]]; then
    if [[ "${E2E_KEEP_DB:-0}" == 1 ]]; then
      echo "--- kept database ${DB_URL} (E2E_KEEP_DB=1)" >&2
    else
      drop_database >/dev/null && echo "--- dropped database ${DB_NAME}" >&2
    fi
  fi
  if rmdir "$WORK_DIR" 2>/dev/null; then :; else echo "--- artifacts (service log, newman report): ${WORK_DIR}" >&2; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'FAIL_WHAT="interrupted"; exit 130' INT
trap 'FAIL_WHAT="terminated"; exit 143' TERM

# A port is free when we can listen on it on every interface (the service listens on 0.0.0.0).
port_free() {
  node -e '
    const server = require("node:net").createServer();
    server.once("error", () => process.exit(1));
    server.listen(Number(process.argv[1]), "0.0.0.0", () => server.close(() => process.exit(0)));
  ' "$1"
}

http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true
}

# ------------------------------------------------------------------ step 0
step 0 "preflight: tools, PostgreSQL, free ports"
for tool in node npm npx psql pg_isready curl; do
  command -v "$tool" >/dev/null || fail "'${tool}' is not installed"
done
[[ -d node_modules ]] || fail "node_modules is missing: run npm ci first"

PG_HOST=$(node -e 'const u = new URL(process.argv[1]); console.log(u.hostname)' "$PG_URL")
PG_PORT=$(node -e 'const u = new URL(process.argv[1]); console.log(u.port || 5432)' "$PG_URL")
if ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
  echo "PostgreSQL is not answering on ${PG_HOST}:${PG_PORT}; starting the local cluster"
  command -v pg_ctlcluster >/dev/null || fail "PostgreSQL is not running on ${PG_HOST}:${PG_PORT} and pg_ctlcluster is not available to start it"
  PG_VERSION_DIR=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$PG_VERSION_DIR" ]] || fail "PostgreSQL is not running and no cluster was found under /etc/postgresql"
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION_DIR" main start || fail "could not start PostgreSQL cluster ${PG_VERSION_DIR}/main"
  for _ in $(seq 1 30); do pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break; sleep 1; done
  pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || fail "PostgreSQL did not come up on ${PG_HOST}:${PG_PORT} within 30 s"
fi
echo "PostgreSQL answers on ${PG_HOST}:${PG_PORT}"

for entry in "HTTP (PORT):${HTTP_PORT}" "mock payment provider (PAYMENT_MOCK_PORT):${PAY_PORT}" "mock warehouse (WAREHOUSE_MOCK_PORT):${WH_PORT}"; do
  port="${entry##*:}"
  port_free "$port" || fail "port ${port} for the ${entry%:*} is busy: stop whatever listens there (ss -ltnp | grep :${port}) or set another port"
done
echo "ports ${HTTP_PORT}, ${PAY_PORT}, ${WH_PORT} are free"

# ------------------------------------------------------------------ step 1
step 1 "create a fresh database ${DB_NAME}"
psql_admin -c "CREATE DATABASE \"${DB_NAME}\"" || fail "could not create database ${DB_NAME} on ${PG_URL}"
DB_CREATED=1
echo "DATABASE_URL=${DB_URL}"

# Everything below uses this database and these ports, whatever a local .env says
# (dotenv never overrides a variable that is already set; empty means "not set" to the service).
export DATABASE_URL="$DB_URL"
export PORT="$HTTP_PORT" PAYMENT_MOCK_PORT="$PAY_PORT" WAREHOUSE_MOCK_PORT="$WH_PORT"
export ROLE=all PAYMENT_PROVIDER_URL= WAREHOUSE_URL= LOG_LEVEL=warn
# Whatever the service keeps on disk (such as a generated development JWT secret) goes to the run's
# own directory, not ./.data.
export DATA_DIR="${WORK_DIR}/data"

# ------------------------------------------------------------------ step 2
step 2 "npx sequelize-cli db:migrate"
npx sequelize-cli db:migrate || fail "db:migrate failed"

# ------------------------------------------------------------------ step 3
step 3 "npx sequelize-cli db:seed:all"
npx sequelize-cli db:seed:all || fail "db:seed:all failed"
PRODUCTS=$(psql -X -At -v ON_ERROR_STOP=1 "$DB_URL" -c 'SELECT count(*) FROM "Products"') || fail "could not count the seeded products"
[[ "$PRODUCTS" -gt 0 ]] || fail "the seeders created no products"
echo "${PRODUCTS} products seeded"
CLIENTS=$(psql -X -At -v ON_ERROR_STOP=1 "$DB_URL" -c 'SELECT count(*) FROM "Api_Clients"') || fail "could not count the API clients"
[[ "$CLIENTS" -eq 0 ]] || fail "db:seed:all created ${CLIENTS} API client(s): the demo catalog must add no credentials"
# The collection signs in as the demo clients, which only their own seeder creates.
npm run db:seed:demo-clients --silent || fail "db:seed:demo-clients failed"

# ------------------------------------------------------------------ step 4
step 4 "npm start (npm run build, then node (with its flags) dist/src/main.js so SIGTERM reaches node), log: ${SERVICE_LOG}"
npm run build --silent || fail "npm run build (tsc) failed"
# Ports may have been taken while we migrated.
for port in "$HTTP_PORT" "$PAY_PORT" "$WH_PORT"; do
  port_free "$port" || fail "port ${port} became busy before the service started"
done
node --max-old-space-size=256 dist/src/main.js >"$SERVICE_LOG" 2>&1 &
SERVICE_PID=$!
echo "service pid ${SERVICE_PID}"

# ------------------------------------------------------------------ step 5
step 5 "wait for GET ${BASE_URL}/ready (timeout ${READY_TIMEOUT_S} s)"
deadline=$(( $(date +%s) + READY_TIMEOUT_S ))
ready_at=""
while :; do
  service_alive || fail "the service exited during start-up (see its log below)"
  if [[ "$(http_code "${BASE_URL}/ready")" == 200 ]]; then ready_at=$(date +%s); break; fi
  (( $(date +%s) < deadline )) || fail "${BASE_URL}/ready did not answer 200 within ${READY_TIMEOUT_S} s (last: $(http_code "${BASE_URL}/ready"))"
  sleep 0.5
done
for url in "http://localhost:${PAY_PORT}/health" "http://localhost:${WH_PORT}/health"; do
  [[ "$(http_code "$url")" == 200 ]] || fail "${url} does not answer 200: the mock is not running"
done
echo "ready: $(curl -s --max-time 5 "${BASE_URL}/ready")"

# ------------------------------------------------------------------ step 6
step 6 "newman: the Postman collection against ${BASE_URL}"
newman_rc=0
color=(--color on)
[[ -t 1 ]] || color=(--color off)
npx newman run postman/orderloop.postman_collection.json \
  -e postman/local.postman_environment.json \
  --env-var "baseUrl=${BASE_URL}" \
  --env-var "paymentMockUrl=http://localhost:${PAY_PORT}" \
  --env-var "warehouseMockUrl=http://localhost:${WH_PORT}" \
  --timeout-request 15000 "${color[@]}" \
  -r cli,json --reporter-json-export "$REPORT" || newman_rc=$?
[[ -s "$REPORT" ]] || fail "newman wrote no report (exit code ${newman_rc})"
# shellcheck disable=SC2016
SUMMARY=$(node -e '
  const s = require(process.argv[1]).run.stats;
  console.log(`requests ${s.requests.total} (${s.requests.failed} failed), assertions ${s.assertions.total} (${s.assertions.failed} failed)`);
' "$REPORT")
echo "newman: ${SUMMARY}"
service_alive || fail "the service died during the newman run"
[[ "$newman_rc" == 0 ]] || fail "newman reported failures (exit code ${newman_rc}): ${SUMMARY}"

# ------------------------------------------------------------------ step 7
step 7 "psql: the \"Order_Logs\" of the order the collection created"
# The order id comes from newman's JSON report: the response body of the "Create an order" request
# (collection variables set during a run are not in the report).
ORDER_ID=$(node -e '
  const report = require(process.argv[1]);
  const created = report.run.executions.filter((e) => e.item && e.item.name === "Create an order" && e.response && e.response.code === 202);
  if (!created.length) { console.error("no 202 answer to \"Create an order\" in the report"); process.exit(1); }
  const body = JSON.parse(Buffer.from(created[created.length - 1].response.stream.data).toString("utf8"));
  process.stdout.write(body.order.id);
' "$REPORT") || fail "could not find the created order in the newman report ${REPORT}"
[[ "$ORDER_ID" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || fail "the order id from the report is not a UUID: '${ORDER_ID}'"
echo "ORDERLOOP_ORDER_ID=${ORDER_ID}"
echo

psql -X -v ON_ERROR_STOP=1 -v id="$ORDER_ID" "$DB_URL" <<'SQL' || fail "psql could not read \"Order_Logs\""
SELECT id, status, failure_reason, payment_attempts, total_cents, currency FROM "Orders" WHERE id = :'id';
SELECT id, event, from_status, to_status, attempt, message, created_at FROM "Order_Logs" WHERE order_id = :'id' ORDER BY id;
SQL

EVENTS=$(psql -X -At -v ON_ERROR_STOP=1 -v id="$ORDER_ID" "$DB_URL" <<'SQL'
SELECT string_agg(event, ' ' ORDER BY id) FROM "Order_Logs" WHERE order_id = :'id';
SQL
) || fail "psql could not read the events of order ${ORDER_ID}"
ORDER_STATUS=$(psql -X -At -v ON_ERROR_STOP=1 -v id="$ORDER_ID" "$DB_URL" <<'SQL'
SELECT status FROM "Orders" WHERE id = :'id';
SQL
) || fail "psql could not read order ${ORDER_ID}"
read -r -a EVENT_LIST <<<"$EVENTS"
(( ${#EVENT_LIST[@]} > 0 )) || fail "order ${ORDER_ID} has no rows in \"Order_Logs\""
FIRST="${EVENT_LIST[0]}"
LAST="${EVENT_LIST[${#EVENT_LIST[@]}-1]}"
[[ "$FIRST" == ORDER_CREATED ]] || fail "the first \"Order_Logs\" event of ${ORDER_ID} is ${FIRST}, not ORDER_CREATED"
case "$LAST" in
  ORDER_COMPLETED | ORDER_FAILED | ORDER_CANCELLED | ORDER_REFUNDED) ;;
  *) fail "the last \"Order_Logs\" event of ${ORDER_ID} is ${LAST}, not ORDER_COMPLETED, ORDER_FAILED, ORDER_CANCELLED or ORDER_REFUNDED" ;;
esac
[[ "$LAST" == "ORDER_${ORDER_STATUS^^}" ]] || fail "order ${ORDER_ID} is ${ORDER_STATUS} but its last event is ${LAST}"
echo "order ${ORDER_ID}: ${#EVENT_LIST[@]} log rows, ${FIRST} ... ${LAST} (status ${ORDER_STATUS})"

# ------------------------------------------------------------------ step 8
step 8 "SIGTERM the service (pid ${SERVICE_PID}); it must exit 0 within ${STOP_TIMEOUT_S} s"
service_alive || fail "the service is no longer running before SIGTERM"
kill -TERM "$SERVICE_PID"
stop_started=$(date +%s%N)
deadline=$(( $(date +%s) + STOP_TIMEOUT_S ))
while service_alive && (( $(date +%s) < deadline )); do sleep 0.1; done
if service_alive; then
  fail "the service did not exit within ${STOP_TIMEOUT_S} s of SIGTERM"
fi
exit_code=0
wait "$SERVICE_PID" || exit_code=$?
SERVICE_PID=""
stop_ms=$(( ($(date +%s%N) - stop_started) / 1000000 ))
[[ "$exit_code" == 0 ]] || fail "the service exited with code ${exit_code} after SIGTERM (expected 0)"
echo "the service exited 0 in ${stop_ms} ms"
if grep -qiE '"level":(50|60)' "$SERVICE_LOG"; then
  echo "note: the service logged errors during the run:"
  grep -iE '"level":(50|60)' "$SERVICE_LOG" | tail -n 10
fi

# ------------------------------------------------------------------ step 9
step 9 "drop the database ${DB_NAME}"
if [[ "${E2E_KEEP_DB:-0}" == 1 ]]; then
  echo "kept ${DB_URL} (E2E_KEEP_DB=1)"
else
  drop_database || fail "could not drop database ${DB_NAME}"
  DB_CREATED=0
fi

step_end=$(date +%s%N)
TIMINGS+="${STEP}:$(( (step_end - STEP_STARTED) / 1000000 ))ms"
DONE=1
echo
echo "step timings: ${TIMINGS}"
echo "E2E PASSED in $(( $(date +%s) - STARTED_AT )) s (ready after $(( ready_at - STARTED_AT )) s; newman: ${SUMMARY})"
