#!/usr/bin/env bash
# Runs the Postman collection with newman against a running orderloop (npm run test:postman).
#   BASE_URL            the service          (default http://localhost:3000)
#   PAYMENT_MOCK_URL    mock payment provider (default http://localhost:4001)
#   WAREHOUSE_MOCK_URL  mock warehouse        (default http://localhost:4002)
#   CLIENT_ID, CLIENT_SECRET                    an admin API client (default: the demo admin client
#   CUSTOMER_CLIENT_ID, CUSTOMER_CLIENT_SECRET  and demo customer client from db:seed:all)
# Extra arguments go to newman, e.g. `npm run test:postman -- --folder Orders` or `-r cli,json`.
# Exit code: 0 when every assertion passed, 1 otherwise (newman's).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BASE_URL="${BASE_URL:-http://localhost:3000}"
PAYMENT_MOCK_URL="${PAYMENT_MOCK_URL:-http://localhost:4001}"
WAREHOUSE_MOCK_URL="${WAREHOUSE_MOCK_URL:-http://localhost:4002}"

if ! curl -s -o /dev/null --max-time 5 "${BASE_URL%/}/health"; then
  echo "test:postman: nothing answers at ${BASE_URL} — start the service first (npm start), or set BASE_URL" >&2
  exit 1
fi

clients=()
[[ -n "${CLIENT_ID:-}" ]] && clients+=(--env-var "clientId=${CLIENT_ID}")
[[ -n "${CLIENT_SECRET:-}" ]] && clients+=(--env-var "clientSecret=${CLIENT_SECRET}")
[[ -n "${CUSTOMER_CLIENT_ID:-}" ]] && clients+=(--env-var "customerClientId=${CUSTOMER_CLIENT_ID}")
[[ -n "${CUSTOMER_CLIENT_SECRET:-}" ]] && clients+=(--env-var "customerClientSecret=${CUSTOMER_CLIENT_SECRET}")

exec npx newman run postman/orderloop.postman_collection.json \
  -e postman/local.postman_environment.json \
  --env-var "baseUrl=${BASE_URL%/}" \
  --env-var "paymentMockUrl=${PAYMENT_MOCK_URL%/}" \
  --env-var "warehouseMockUrl=${WAREHOUSE_MOCK_URL%/}" \
  --timeout-request 15000 \
  ${clients[@]+"${clients[@]}"} \
  "$@"
