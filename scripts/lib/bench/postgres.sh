# The PostgreSQL the benchmarks measure, sourced by scripts/bench-*.
#
# BENCH_PG_URL names the server and a database to connect to first (default the
# local postgres database). Each run makes a database of its own beside it.
#
# BENCH_PG_OPTIONS are the connection options of the server's URL. The default,
# sslmode=disable, is how a server on the same machine is reached: traffic that
# never leaves the host gains nothing from TLS, which on these two cores cost a
# PostgreSQL lookup 15-18 % of its throughput (the #16 note of 2026-12-06). Set
# BENCH_PG_OPTIONS= (empty) to measure with TLS where the server offers it.
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_OPTIONS="${BENCH_PG_OPTIONS-sslmode=disable}"

# The URL of database $1 on that server, with the options.
bench_pg_url() {
  echo "${PG_URL%/*}/$1${PG_OPTIONS:+?$PG_OPTIONS}"
}
