# The share of the machine's CPU time the hypervisor gave to other guests
# (steal) during a bench. On a host that sells the same cores twice every
# figure drops with it, so each run says how much it lost.
#
#   steal_mark                 remembers the counters of /proc/stat
#   steal_since_mark           prints the percentage stolen since, e.g. "4.2"

# All CPU time so far and the part stolen, in ticks (/proc/stat's first line:
# user nice system idle iowait irq softirq steal).
cpu_times() { awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8+$9, $9}' /proc/stat; }

steal_mark() { read -r STEAL_MARK_TOTAL STEAL_MARK_STOLEN < <(cpu_times); }

steal_since_mark() {
  local total stolen
  read -r total stolen < <(cpu_times)
  awk -v t="$((total - STEAL_MARK_TOTAL))" -v s="$((stolen - STEAL_MARK_STOLEN))" \
    'BEGIN { printf "%.1f", (t > 0 ? 100 * s / t : 0) }'
}
