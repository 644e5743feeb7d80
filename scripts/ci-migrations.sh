#!/usr/bin/env bash
# Migrations and seeders against a fresh database on the machine's PostgreSQL, through
# sequelize-cli exactly as an operator runs them:
#   db:migrate → db:migrate:undo:all → db:migrate → db:seed:all → db:seed:all
# then checks that the second seed changed no count, and drops the database.
#
#   scripts/ci-migrations.sh
#   PG_ADMIN_URL=postgres://user:pass@host:5432/postgres scripts/ci-migrations.sh
#
# Exit code 0 when every step passed; otherwise it names the step that failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB_NAME="orderloop_ci_migrations_$$_$(date +%s)"
BASE_URL="${ADMIN_URL%/*}"
export DATABASE_URL="${BASE_URL}/${DB_NAME}"
# Only DATABASE_URL may choose the database (config/config.js reads it first; .env does not override it).
unset DB_HOST DB_PORT DB_USER DB_PASS DB_DATABASE DB_DIALECT || true

STEP="start"
CREATED=0

log() { printf '[ci-migrations] %s\n' "$*"; }

admin() { node -e '
  const { Client } = require("pg");
  const c = new Client({ connectionString: process.argv[1] });
  c.connect().then(() => c.query(process.argv[2])).then(() => c.end(), (e) => { console.error(e.message); process.exit(1); });
' "$ADMIN_URL" "$1"; }

scalar() { node -e '
  const { Client } = require("pg");
  const c = new Client({ connectionString: process.env.DATABASE_URL });
  c.connect().then(() => c.query(process.argv[1])).then((r) => { console.log(Object.values(r.rows[0])[0]); return c.end(); }, (e) => { console.error(e.message); process.exit(1); });
' "$1"; }

counts() {
  scalar "SELECT format('%s products, %s categories, %s links', (SELECT count(*) FROM \"Products\"), (SELECT count(*) FROM \"Categories\"), (SELECT count(*) FROM \"Product_Categories\"))"
}

all_up() {
  local status
  status="$(npx sequelize-cli db:migrate:status)"
  printf '%s\n' "$status" | grep -E '^(up|down) '
  printf '%s\n' "$status" | grep -qE '^up ' && ! printf '%s\n' "$status" | grep -qE '^down '
}

cleanup() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    log "FAILED at step: ${STEP} (exit ${status})"
  fi
  if [ "$CREATED" -eq 1 ]; then
    admin "DROP DATABASE IF EXISTS \"${DB_NAME}\" WITH (FORCE)" || log "could not drop database ${DB_NAME}"
  fi
  exit "$status"
}
trap cleanup EXIT

run_step() {
  STEP="$1"
  shift
  log "step: ${STEP}"
  "$@"
}

run_step "create database ${DB_NAME}" admin "CREATE DATABASE \"${DB_NAME}\""
CREATED=1

run_step "db:migrate" npx sequelize-cli db:migrate
run_step "db:migrate:undo:all" npx sequelize-cli db:migrate:undo:all
run_step "check: nothing left after undo:all" test "$(scalar "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'SequelizeMeta'")" = "0"
run_step "db:migrate (again)" npx sequelize-cli db:migrate
run_step "db:migrate:status shows everything up" all_up
run_step "db:seed:all (first)" npx sequelize-cli db:seed:all
STEP="count after first seed"
FIRST="$(counts)"
log "after first seed: ${FIRST}"
run_step "db:seed:all (second)" npx sequelize-cli db:seed:all
STEP="count after second seed"
SECOND="$(counts)"
log "after second seed: ${SECOND}"
STEP="check: second seed changed no count"
if [ "$FIRST" != "$SECOND" ]; then
  log "counts differ: '${FIRST}' then '${SECOND}'"
  exit 1
fi
STEP="check: demo catalog present"
test "$(scalar 'SELECT count(*) FROM "Products"')" -ge 19

STEP="done"
log "all steps passed"
