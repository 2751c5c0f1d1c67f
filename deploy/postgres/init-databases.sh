#!/bin/sh
# One database and one role per service (each service owns its data: docs/architecture.md §2), created on the
# first start of an empty PostgreSQL volume by the official image (/docker-entrypoint-initdb.d/).
# The passwords come from the environment (docker-compose.yml); a missing one stops the initialisation.
set -eu

create() {  # create <role and database> <password>
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
       --set=name="$1" --set=password="$2" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
}

create commitments "${COMMITMENTS_DB_PASSWORD:?COMMITMENTS_DB_PASSWORD is not set}"
create notifications "${NOTIFICATIONS_DB_PASSWORD:?NOTIFICATIONS_DB_PASSWORD is not set}"
create reporting "${REPORTING_DB_PASSWORD:?REPORTING_DB_PASSWORD is not set}"
