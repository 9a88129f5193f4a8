#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the tests and print how to reach it:
#
#     eval "$(bash .ci/postgres.sh)"     # sets TEST_DATABASE_URL (and PG_TEST_STARTED=1 if it started one)
#     bash .ci/postgres.sh stop          # stops the server in $PG_TEST_DIR and removes its data
#
# Installs Debian's postgresql if it is missing (needs root), runs a private cluster as the
# postgres user in $PG_TEST_DIR (default /tmp/productlane-slack-pg) listening on 127.0.0.1 on a
# free port, and creates a database and a password-protected user. Run it again and it reuses
# a server that is still up. Only the export line goes to stdout; everything else to stderr.
# Tuned for tests (fsync off): never point it at data you want to keep.
set -euo pipefail

exec 3>&1 1>&2 # fd 3 = the caller's stdout; all chatter goes to stderr

STATE_DIR=${PG_TEST_DIR:-/tmp/productlane-slack-pg}
DB_NAME=${PG_TEST_DB:-productlane_test}
DB_USER=${PG_TEST_USER:-productlane}
DATA_DIR=$STATE_DIR/data
SOCK_DIR=$STATE_DIR/sock
LOG_FILE=$STATE_DIR/postgres.log
started=$SECONDS

say() { printf 'postgres.sh: %s\n' "$*"; }
die() {
	say "error: $*"
	[[ -f $LOG_FILE ]] && tail -n 30 "$LOG_FILE"
	exit 1
}

find_bindir() {
	local dir
	dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	if [[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl ]]; then
		printf '%s\n' "$dir"
	fi
}

# Run a command as the cluster's owner: postgres when we are root (initdb refuses root).
if [[ $(id -u) == 0 ]]; then
	as_owner() { runuser -u postgres -- "$@"; }
	OWNER=postgres
else
	as_owner() { "$@"; }
	OWNER=$(id -un)
fi

if [[ ${1:-} == stop ]]; then
	BIN=$(find_bindir)
	if [[ -n $BIN && -d $DATA_DIR ]]; then
		as_owner "$BIN/pg_ctl" -D "$DATA_DIR" -m fast -w -t 30 stop >/dev/null 2>&1 || true
		say "stopped the server in $STATE_DIR"
	fi
	rm -rf "$STATE_DIR"
	exit 0
fi

BIN=$(find_bindir)
if [[ -z $BIN || ${PG_FORCE_INSTALL:-} == 1 ]]; then
	[[ $(id -u) == 0 ]] || die "PostgreSQL is not installed and this is not root: apt-get install postgresql"
	say "installing Debian's postgresql"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql </dev/null
	BIN=$(find_bindir)
	[[ -n $BIN ]] || die "postgresql installed, but no /usr/lib/postgresql/*/bin/initdb"
fi
say "using $BIN"

if [[ $(id -u) == 0 ]]; then
	id postgres >/dev/null 2>&1 || die "no postgres user (is the postgresql package installed?)"
fi

psql_admin() {
	as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PORT" -U postgres -d postgres "$@"
}

port_in_use() { (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() {
	[[ -f $STATE_DIR/port ]] || return 1
	PORT=$(<"$STATE_DIR/port")
	as_owner "$BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1 &&
		as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 5
}

mkdir -p "$STATE_DIR"
chmod 755 "$STATE_DIR"

started_here=0
if running; then
	say "reusing the server on 127.0.0.1:$PORT"
else
	# A leftover data dir from a dead run is thrown away: it only ever holds test data.
	if [[ -d $DATA_DIR ]]; then
		as_owner "$BIN/pg_ctl" -D "$DATA_DIR" -m immediate stop >/dev/null 2>&1 || true
		rm -rf "$DATA_DIR"
	fi
	mkdir -p "$DATA_DIR" "$SOCK_DIR"
	chown "$OWNER" "$DATA_DIR" "$SOCK_DIR" "$STATE_DIR"
	chmod 700 "$DATA_DIR"
	: >"$LOG_FILE"
	chown "$OWNER" "$LOG_FILE"
	say "initdb in $DATA_DIR"
	as_owner "$BIN/initdb" -D "$DATA_DIR" -U postgres -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=scram-sha-256 >>"$LOG_FILE" 2>&1 || die "initdb failed"

	started_ok=0
	for _ in 1 2 3 4 5; do
		PORT=$((20000 + RANDOM % 20000))
		port_in_use "$PORT" && continue
		if as_owner "$BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$SOCK_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
			start >/dev/null 3>&- </dev/null; then # the server must not hold the caller's stdout
			started_ok=1
			break
		fi
		say "could not start on port $PORT; trying another"
	done
	[[ $started_ok == 1 ]] || die "the server did not start"
	printf '%s\n' "$PORT" >"$STATE_DIR/port"
	started_here=1
	say "server up on 127.0.0.1:$PORT"
fi

for _ in $(seq 1 60); do
	as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && break
	sleep 0.5
done
as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" || die "the server does not accept connections"

# The password is made once per state dir and kept, so a re-run prints the same URL.
if [[ ! -s $STATE_DIR/password ]]; then
	(umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$STATE_DIR/password")
fi
PASSWORD=$(<"$STATE_DIR/password")

psql_admin -v user="$DB_USER" -v pw="$PASSWORD" -v db="$DB_NAME" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'user', :'pw')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'user', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL

say "ready in $((SECONDS - started)) s"
printf 'export TEST_DATABASE_URL=%q\n' \
	"postgresql+psycopg://$DB_USER:$PASSWORD@127.0.0.1:$PORT/$DB_NAME" >&3
if [[ $started_here == 1 ]]; then
	printf 'export PG_TEST_STARTED=1\n' >&3
fi
