#!/bin/sh
# One database and one role per service (each service owns its data: docs/architecture.md §2), created on the
# first start of an empty PostgreSQL volume by the official image (/docker-entrypoint-initdb.d/).
# ENGAGEMENTS_DATABASES names them (default: the three services); each one's password comes from
# <NAME>_DB_PASSWORD in the environment (docker-compose.yml), and a missing one stops the initialisation.
# tests/deploy/test_postgres_init.py runs this script against a real PostgreSQL.
set -eu

create() {  # create <role and database> <password>
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname postgres \
       --set=name="$1" --set=password="$2" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
}

for name in ${ENGAGEMENTS_DATABASES:-commitments notifications reporting}; do
  variable="$(echo "$name" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  eval "password=\${$variable:-}"
  if [ -z "$password" ]; then
    echo "init-databases: $variable is not set" >&2
    exit 1
  fi
  create "$name" "$password"
done
