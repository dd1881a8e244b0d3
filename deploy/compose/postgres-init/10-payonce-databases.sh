#!/usr/bin/env bash
# Run once by the postgres image on an empty data directory
# (/docker-entrypoint-initdb.d): one login role and one database per PayOnce
# database, each database owned by its role. payment-service, outbox-relay
# and reconciler share payonce_payment; payonce-migrate connects as the owner.
# Passwords come from the container's environment (deploy/.env).
set -euo pipefail

: "${PAYONCE_ORDER_DB_PASSWORD:?}" "${PAYONCE_PAYMENT_DB_PASSWORD:?}" "${PAYONCE_PROVIDER_DB_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-postgres}" \
  -v order_pw="$PAYONCE_ORDER_DB_PASSWORD" \
  -v payment_pw="$PAYONCE_PAYMENT_DB_PASSWORD" \
  -v provider_pw="$PAYONCE_PROVIDER_DB_PASSWORD" <<'SQL'
CREATE ROLE payonce_order LOGIN PASSWORD :'order_pw';
CREATE ROLE payonce_payment LOGIN PASSWORD :'payment_pw';
CREATE ROLE payonce_provider LOGIN PASSWORD :'provider_pw';
CREATE DATABASE payonce_order OWNER payonce_order;
CREATE DATABASE payonce_payment OWNER payonce_payment;
CREATE DATABASE payonce_provider OWNER payonce_provider;
-- Nobody but the owner (and superusers) may connect to a PayOnce database.
REVOKE ALL ON DATABASE payonce_order, payonce_payment, payonce_provider FROM PUBLIC;
SQL
echo "payonce: created roles and databases payonce_order, payonce_payment, payonce_provider"
