#!/bin/sh
# Runs Pacemaker's scheduler on every comparison CIB and writes what it
# decided beside it (NN-case.pacemaker). Then, on the benchmark cluster of
# 1,000 resources on 32 nodes: times crm_simulate computing the transition
# (-G) and simulating it (-S, killed after 120 s), and compares its
# placement with vigil's. Needs crm_simulate (apt-get install
# pacemaker-cli-utils pacemaker), bc, and Go. `go test` never runs this.
set -eu
cd "$(dirname "$0")"
for x in [0-9]*.xml; do
	# -S simulates the transition, -s shows allocation scores; the CIB's
	# execution-date is the clock.
	crm_simulate -x "$x" -S -s > "${x%.xml}.pacemaker" 2>&1 || true
done
echo "wrote $(ls [0-9]*.pacemaker | wc -l) .pacemaker files"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
big=$tmp/vigil-1000x32.xml
repo=$(cd ../../../.. && pwd)
(cd "$repo" && go test ./internal/scheduler -run TestPacemakerBig -count=1 -pacemaker-cib="$big" >/dev/null)
elapsed() { # elapsed SECONDS-LIMIT ARGS...: run crm_simulate, print seconds
	limit=$1
	shift
	start=$(date +%s.%N)
	if timeout "$limit" crm_simulate "$@" >/dev/null 2>&1; then
		echo "$(echo "$(date +%s.%N) - $start" | bc) s"
	else
		echo "failed or killed after $limit s"
	fi
}
echo "1000 resources x 32 nodes:"
echo "  crm_simulate -G (compute the transition): $(elapsed 120 -x "$big" -G "$tmp/graph.xml" -Q)"
echo "  crm_simulate -S (compute and simulate it): $(elapsed 120 -x "$big" -S -Q)"
crm_simulate -x "$big" -s > "$tmp/summary.txt" 2>&1 || true
(cd "$repo" && go test ./internal/scheduler -run TestPacemakerBig -count=1 -v \
	-pacemaker-cib="$big" -pacemaker-summary="$tmp/summary.txt" | grep -v '^=== RUN\|^--- PASS\|^PASS\|^ok')
