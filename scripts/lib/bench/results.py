"""Turns the output of scripts/bench into bench/RESULTS.md: one table of every
SPEC §13 figure against its budget, the raw output, and the previous run's table."""

import argparse
import datetime
import pathlib
import re

parser = argparse.ArgumentParser()
parser.add_argument("log")
parser.add_argument("results")
parser.add_argument("--commit", required=True)
parser.add_argument("--machine", required=True)
parser.add_argument("--load", required=True)
args = parser.parse_args()

log = re.sub(r"\x1b\[[0-9;]*m", "", pathlib.Path(args.log).read_text())
sections = dict(
    (m.group(1), m.group(2))
    for m in re.finditer(r"^## (.+?)\n(.*?)(?=^## |\Z)", log, re.S | re.M)
)


def number(text):
    return float(text.replace(",", ""))


def millis(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text or "")
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def load_runs(text):
    """{backend: {label: (req/s, p50, p99)}} and memory lines from a wrk summary."""
    runs, backend = {}, None
    for line in text.splitlines():
        m = re.match(r"==> (\w+)", line)
        if m:
            backend = m.group(1).lower()
            runs.setdefault(backend, {})
            continue
        m = re.match(r"\s+(.+?)\s{2,}([\d.]+) req/s\s+p50 (\S+)\s+p99 (\S+)", line)
        if m and backend:
            runs[backend][m.group(1).strip()] = (number(m.group(2)), m.group(3), m.group(4))
        m = re.match(r"\s+server memory (idle|after the runs): ([\d.]+) MB", line)
        if m and backend:
            runs[backend]["rss " + m.group(1)] = (number(m.group(2)), None, None)
    return runs


scim = load_runs(sections.get("SCIM", ""))
provider = load_runs(sections.get("OpenID Provider", ""))
acs_http = load_runs(sections.get("SAML ACS over HTTP", ""))
acs = re.search(r"= (\d+) per second per core", sections.get("ACS validation per core", ""))
weight = re.search(r"heaviest page: ([\d.]+) KB", sections.get("Page weight", ""))

rows = []


def verdict(ok):
    return "met" if ok else "**missed**"


def load_row(label, runs, key, minimum, p99_max=None):
    sqlite = runs.get("sqlite", {}).get(key)
    pg = runs.get("postgres", {}).get(key)

    def cell(run):
        if not run:
            return "not measured"
        rps, _, p99 = run
        return f"{rps:,.0f}/s, p99 {p99}"

    budget = f"≥ {minimum:,}/s" + (f", p99 < {p99_max} ms" if p99_max else "")
    ok_sqlite = bool(sqlite) and sqlite[0] >= minimum and (
        not p99_max or (millis(sqlite[2]) or 1e9) < p99_max
    )
    judged = verdict(ok_sqlite)
    if pg:
        ok_pg = bool(sqlite) and pg[0] >= sqlite[0] / 2
        judged += f" / PG {verdict(ok_pg)}"
    rows.append((label, cell(sqlite), cell(pg), budget, judged))


if acs:
    per_core = number(acs.group(1))
    rows.append(("SAML ACS validation, per core", f"{per_core:,.0f}/s", "(no database)", "≥ 5,000/s", verdict(per_core >= 5000)))
load_row("SAML ACS over HTTP, SP-initiated, c=8", acs_http, "POST /sso/saml/{id}/acs (c=8)", 2000)
load_row("SCIM create (POST /Users)", scim, "POST /Users", 5000, 20)
load_row("SCIM userName lookup, 100,000 users", scim, "GET /Users?filter=userName eq", 20000, 20)
load_row("SCIM PATCH deactivate", scim, "PATCH /Users/{id} active=false", 5000)
for backend in ("sqlite", "postgres"):
    idle = scim.get(backend, {}).get("rss idle")
    busy = scim.get(backend, {}).get("rss after the runs")
    if idle or busy:
        text = f"{idle[0]:.0f} MB idle / {busy[0]:.0f} MB after load" if idle and busy else "partial"
        ok = bool(idle and busy) and idle[0] <= 40 and busy[0] <= 150
        rows.append((f"server RSS ({backend})", text, "", "≤ 40 MB / ≤ 150 MB", verdict(ok)))
for key in provider.get("sqlite", {}):
    load_row(f"OpenID Provider {key}", provider, key, 2000)
if weight:
    kb = number(weight.group(1))
    rows.append(("heaviest page (WASM + JS + CSS on the wire, brotli)", f"{kb:.0f} KB", "", "≤ 250 KB", verdict(kb <= 250)))

table = ["| figure | SQLite | PostgreSQL | budget | verdict |", "|---|---|---|---|---|"]
table += [f"| {' | '.join(row)} |" for row in rows]

results = pathlib.Path(args.results)
previous = ""
if results.exists():
    old = results.read_text()
    m = re.search(r"^## Latest run.*?\n(.*?)(?=^## )", old, re.S | re.M)
    if m:
        previous = m.group(1).strip()

today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
out = [
    "# Benchmark results (SPEC §13)",
    "",
    "Written by `scripts/bench`; PostgreSQL's verdict is against half the SQLite figure.",
    "",
    f"## Latest run: {today}, commit {args.commit}",
    "",
    f"Machine: {args.machine}; {args.load}.",
    "",
    *table,
    "",
    "## Previous run",
    "",
    previous or "(none recorded)",
    "",
    "## Raw output of the latest run",
    "",
    "```",
    log.strip(),
    "```",
    "",
]
results.write_text("\n".join(out))
