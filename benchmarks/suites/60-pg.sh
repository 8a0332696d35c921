# shellcheck shell=bash disable=SC2154,SC2034  # tools/bench's variables
# Suite "pg", sourced by tools/bench (benchmarks/README.md): uco's
# PostgreSQL client (uco/pg.h) against asyncpg and psycopg 3 async, on one
# throwaway server that tests/pg_server.sh starts and stops.
# benchmarks/pg_bench.py pins the server to CPU 0 and each client to CPU 1
# and repeats each program itself, so it runs unpinned and once here.

title pg "PostgreSQL clients on one local server (kq/s: queries/s; cpu_us_*: client CPU per query; rows_100k: ms per 100,000-row fetch)"

if [[ -z $py ]]; then
	note "no python3: pg benchmark skipped"
elif ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
	note "no PostgreSQL server (postgresql-15): pg benchmark skipped"
elif [[ ! -x $build/benchmarks/pg_bench_uco ]]; then
	note "no $build/benchmarks/pg_bench_uco (built only with libpq-dev): pg benchmark skipped"
else
	repeat=()
	((reps_given)) && repeat=(--repeat "$reps")
	saved_limit=$limit
	limit=$((limit * 4))
	run --once "pg: uco, asyncpg, psycopg" no \
		tests/pg_server.sh "$py" benchmarks/pg_bench.py --build "$build" "${repeat[@]}"
	limit=$saved_limit
fi
