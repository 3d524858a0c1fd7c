#!/bin/bash
# hoist benchmarks on a throwaway fleet of Debian servers on this machine.
#
#   bench/run.sh                  # everything: load, deploy-time, compare
#   bench/run.sh load             # zero downtime: failed requests under load
#                                 # during deploy, rollback and a plain restart
#   bench/run.sh deploy-time      # wall time of deploy/redeploy/rollback
#                                 # for 1, 3 and 10 hosts
#   bench/run.sh compare          # hoist deploy/rollback beside a plain
#                                 # deploy script (bench/plain-deploy.sh),
#                                 # for 1, 3 and 10 hosts
#   bench/run.sh container        # strategy container: bytes and time of a
#                                 # first deploy and a code-only redeploy,
#                                 # beside docker save | ssh docker load
#
# Knobs (environment):
#   BENCH_OUT=DIR        where logs and results go (default: a new /tmp dir)
#   BENCH_ROUNDS=2       load: deploy+rollback+restart rounds
#   BENCH_CONNS=8        load: wrk connections per host
#   BENCH_SIZES="1 3 10" deploy-time, compare: fleet sizes
#   BENCH_RUNS=3         deploy-time, compare: runs per measurement
#
# Needs: Docker, Go, wrk, hyperfine, jq, bc, curl, git (see bench/README.md).
# Every fleet it starts is removed when it exits, also on failure or Ctrl-C.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
source "$BENCH_DIR/lib.sh"

# Internal: hyperfine's --prepare runs this to commit a new version.
if [ "${1:-}" = _bump ]; then
	bump "$2" "${3:-}"
	exit 0
fi

what=${1:-all}
case $what in
all | load | deploy-time | compare | container) ;;
*)
	echo "usage: bench/run.sh [all|load|deploy-time|compare|container]" >&2
	exit 2
	;;
esac

OUT=${BENCH_OUT:-$(mktemp -d /tmp/hoist-bench.XXXXXX)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
: >"$OUT/results.tsv"
LOAD_ROUNDS=${BENCH_ROUNDS:-2}
LOAD_CONNS=${BENCH_CONNS:-8}
# The load starts LOAD_LEAD s before the measured command and stops
# LOAD_TAIL s after it, so a pause or a failure at either edge is caught.
LOAD_LEAD=2
LOAD_TAIL=3
SIZES=${BENCH_SIZES:-1 3 10}
RUNS=${BENCH_RUNS:-3}

# The app's secret: random per run, never written into the app's repository.
DJANGO_SECRET_KEY=$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')
export DJANGO_SECRET_KEY
# The benchmark app's commits must not depend on the user's git config.
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

for tool in docker go wrk hyperfine jq bc curl git ssh; do
	command -v "$tool" >/dev/null || {
		echo "bench/run.sh: $tool is missing (apt-get install -y wrk hyperfine jq bc curl git openssh-client)" >&2
		exit 1
	}
done

# Built once: the fleet CLI is called from the EXIT trap too, where a slow
# `go run` compile would be out of place.
HOIST=$OUT/bin/hoist
FLEET=$OUT/bin/fleet
(cd "$ROOT" && go build -o "$HOIST" ./cmd/hoist && go build -o "$FLEET" ./test/fleet/cmd/fleet)

trap cleanup EXIT
trap 'exit 130' INT TERM

# The machine, written next to the results: the numbers mean little without
# it, and other work on the machine (other fleets, tests) skews them.
{
	echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "nproc:   $(nproc)"
	echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "memory:  $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
	echo "kernel:  $(uname -r)"
	echo "docker:  $(docker version --format '{{.Server.Version}}')"
	echo "wrk:     $(wrk -v 2>&1 | head -n1 | cut -d' ' -f2)"
	# Others edit the tree while benchmarks run: say what was built.
	echo "hoist:   $(git -C "$ROOT" rev-parse --short HEAD), $(git -C "$ROOT" status --porcelain -- . ':!bench' | wc -l) uncommitted file(s) outside bench/"
	echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "other containers running at start: $(docker ps -q | wc -l)"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

# restart_live N: the baseline without hoist's switch: `systemctl restart` of
# the live gunicorn unit on every host at once, as a plain deploy script
# would after updating code in place.
restart_live() {
	local n=$1 i c pids=() rc=0
	for ((i = 1; i <= n; i++)); do
		c=$(host_field "web$i" container)
		docker exec "$c" sh -c 'systemctl restart "hoist-notes@$(basename "$(readlink /srv/notes/current)").service"' &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || rc=1
	done
	return $rc
}

# bench_load: 3 hosts sharing PostgreSQL, steady wrk load on each, and in the
# middle of it a deploy of a new commit, a rollback, and (the baseline) a
# plain restart. Each hoist command is followed by a check that every host
# really serves the version expected.
bench_load() {
	local app=$OUT/load/app round live before
	fleet_up load 3 --db
	new_app "$app" 3
	timed "$OUT/load/setup.log" hoist_in "$app" setup bench
	[ "$RC" -eq 0 ] || { cat "$OUT/load/setup.log" >&2; return 1; }
	timed "$OUT/load/deploy-0.log" hoist_in "$app" deploy bench
	[ "$RC" -eq 0 ] || { cat "$OUT/load/deploy-0.log" >&2; return 1; }
	# The version that serves now (not necessarily the newest commit: a
	# rollback goes back to the release before the last deploy).
	live=$(cat "$app/VERSION")
	serving 3 "$live"

	# Control: the same load with nothing happening, to tell the switch's
	# effect from the machine's own noise. Also warms the instances up.
	load_window steady 3 sleep 10
	for ((round = 1; round <= LOAD_ROUNDS; round++)); do
		before=$live
		bump "$app"
		load_window "deploy-$round" 3 hoist_in "$app" deploy bench
		live=$(cat "$app/VERSION")
		serving 3 "$live"
		sleep 2
		load_window "rollback-$round" 3 hoist_in "$app" rollback bench
		live=$before
		serving 3 "$live"
		sleep 2
	done
	for ((round = 1; round <= LOAD_ROUNDS; round++)); do
		load_window "restart-$round" 3 restart_live 3
		serving 3 "$live"
		sleep 2
	done
	fleet_down
}

# hyper NAME PREPARE CMD: hyperfine RUNS runs of CMD (a shell command line);
# PREPARE runs before each and is not timed. hoist's output goes to a log,
# because hyperfine would otherwise throw it away.
hyper() {
	local name=$1 prepare=$2 cmd=$3 dir=$4 n=$5
	local json=$dir/$name.json logf=$dir/$name.log
	log "deploy-time n=$n: $name ($RUNS runs)"
	local args=(--runs "$RUNS" --style basic --export-json "$json")
	[ -n "$prepare" ] && args+=(--prepare "$prepare")
	if ! hyperfine "${args[@]}" "$cmd >>$logf 2>&1" >"$dir/$name.hyperfine" 2>&1; then
		cat "$dir/$name.hyperfine" >&2
		log "hoist's output:"
		tail -n 40 "$logf" >&2
		return 1
	fi
	local times
	times=$(jq -r '[.results[0].times[] | . * 100 | round / 100] | map(tostring) | join(" ")' "$json")
	result deploy-time "$n" "$name" "$RUNS" \
		"$(jq -r '.results[0] | [.mean, .min, .max] | map(. * 100 | round / 100 | tostring) | join("\t")' "$json")" \
		"$(switch_at "$logf")" "$times"
}

# switch_at LOG: when, on average, the hosts switched in the hoist runs logged
# in LOG (seconds after each run started, from hoist's "every host now
# serves" line): what users wait for; the rest of a run is the drain of the
# old instance and tidying up.
switch_at() {
	awk '/every host now serves/ {s += $1; n++} END {if (n) printf "%.1f", s / n; else print "?"}' "$1"
}

# bench_deploy_time: for each fleet size, the wall time of hoist setup, the
# first deploy (fresh hosts), deploys that build a new venv (requirements
# changed), redeploys that reuse it (only code changed) and rollbacks.
# Every size uses --db: with per-host sqlite only the primary would be
# migrated, and the other hosts' health checks would fail.
bench_deploy_time() {
	local n dir app h
	for n in $SIZES; do
		dir=$OUT/dt-$n
		app=$dir/app
		fleet_up "dt-$n" "$n" --db
		new_app "$app" "$n"
		h="env HOME=$FLEET_HOME $HOIST -C $app"

		timed "$dir/setup.log" hoist_in "$app" setup bench
		[ "$RC" -eq 0 ] || { cat "$dir/setup.log" >&2; return 1; }
		result deploy-time "$n" setup 1 "$SECS" "$SECS" "$SECS" - "$SECS"
		timed "$dir/first-deploy.log" hoist_in "$app" deploy bench
		[ "$RC" -eq 0 ] || { cat "$dir/first-deploy.log" >&2; return 1; }
		result deploy-time "$n" first-deploy 1 "$SECS" "$SECS" "$SECS" "$(switch_at "$dir/first-deploy.log")" "$SECS"
		log "deploy-time n=$n: setup and first deploy done (first deploy ${SECS}s)"

		hyper new-venv-deploy "$BENCH_DIR/run.sh _bump $app requirements" "$h deploy bench" "$dir" "$n"
		grep -q 'built virtualenv' "$dir/new-venv-deploy.log" || log "warning: the new-venv deploys built no virtualenv"
		hyper redeploy "$BENCH_DIR/run.sh _bump $app" "$h deploy bench" "$dir" "$n"
		hyper rollback "" "$h rollback bench" "$dir" "$n"
		fleet_down
	done
}

# hoist_t APP ARGS...: hoist_in with a time limit, so a hoist that hangs
# (it happened: --timings once deadlocked after a successful deploy) fails
# the run instead of holding the fleet forever.
hoist_t() {
	local app=$1
	shift
	HOME=$FLEET_HOME timeout 300 "$HOIST" -C "$app" "$@"
}

# bench_compare: for each fleet size, side by side in one run, on one fleet
# and one app: the plain deploy script (bench/plain-deploy.sh, the floor),
# `hoist deploy` of the same commit and `hoist rollback`, RUNS rounds; for
# each, the command's wall time and when every host served the new version
# through nginx (polled). Medians per size.
bench_compare() {
	local n dir app i r hosts prev new
	local plain=() plain_serve=() hd=() hd_serve=() rb=() rb_serve=() sk=()
	local plain_cpu=() hd_cpu=() sk_cpu=()
	local m_p m_ps m_h m_hs m_r m_rs m_sk ssh_d ssh_r others load1
	for n in $SIZES; do
		dir=$OUT/cmp-$n
		app=$dir/app
		mkdir -p "$dir"
		hosts=()
		for ((i = 1; i <= n; i++)); do
			hosts+=("web$i")
		done
		# One request to each host's nginx every POLL_INTERVAL s while
		# waiting for it to serve: about 30 requests/s at most in all, so
		# the polling does not eat the 2 CPUs it measures.
		POLL_INTERVAL=$(awk -v n="$n" 'BEGIN {i = n * 0.03; if (i < 0.1) i = 0.1; print i}')
		fleet_up "cmp-$n" "$n" --db
		new_app "$app" "$n"
		plain_env "$dir/plain.env"

		# Warm-up, not measured: hoist's setup and first deploy (builds its
		# venv), the plain script's setup and first deploy (builds its own),
		# then one redeploy of each.
		log "compare n=$n: setup and first deploys (warm-up)"
		timed "$dir/setup.log" hoist_t "$app" setup bench
		[ "$RC" -eq 0 ] || { cat "$dir/setup.log" >&2; return 1; }
		timed "$dir/first-deploy.log" hoist_t "$app" deploy bench
		[ "$RC" -eq 0 ] || { cat "$dir/first-deploy.log" >&2; return 1; }
		timed "$dir/plain-setup.log" plain_in --setup "$dir/plain.env" "$app" "${hosts[@]}"
		[ "$RC" -eq 0 ] || { cat "$dir/plain-setup.log" >&2; return 1; }
		bump "$app"
		timed "$dir/plain-warmup.log" plain_in "$app" "${hosts[@]}"
		[ "$RC" -eq 0 ] || { cat "$dir/plain-warmup.log" >&2; return 1; }
		timed "$dir/deploy-warmup.log" hoist_t "$app" deploy bench
		[ "$RC" -eq 0 ] || { cat "$dir/deploy-warmup.log" >&2; return 1; }
		sleep 3

		plain=() plain_serve=() hd=() hd_serve=() rb=() rb_serve=() sk=()
		plain_cpu=() hd_cpu=() sk_cpu=()
		for ((r = 1; r <= RUNS; r++)); do
			# What hoist's site serves now (after the last round's rollback,
			# not the newest commit): what the rollback should go back to.
			# Others' containers and the load as the round starts: other
			# work on this 2-core machine skews the round.
			others=$(($(docker ps -q | wc -l) - n - 1))
			load1=$(cut -d' ' -f1 /proc/loadavg)
			prev=$(curl -fsS -H 'Host: bench.test' "http://127.0.0.1:$(host_field web1 http_port)/api/notes" | jq -r .version)
			bump "$app"
			new=$(cat "$app/VERSION")

			serve_timed "$dir/plain-$r.log" plain.test is "$new" "$n" plain_in "$app" "${hosts[@]}"
			[ "$RC" -eq 0 ] || { cat "$dir/plain-$r.log" >&2; return 1; }
			plain+=("$SECS") plain_serve+=("$SERVE") plain_cpu+=("$CPU_FLEET+$CPU_HERE")
			log "compare n=$n run $r: plain script ${SECS}s, every host served at ${SERVE}s, CPU ${CPU_FLEET}s on the fleet + ${CPU_HERE}s here"
			sleep 2

			serve_timed "$dir/deploy-$r.log" bench.test is "$new" "$n" hoist_t "$app" --timings deploy bench
			[ "$RC" -eq 0 ] || { cat "$dir/deploy-$r.log" >&2; return 1; }
			hd+=("$SECS") hd_serve+=("$SERVE") hd_cpu+=("$CPU_FLEET+$CPU_HERE")
			log "compare n=$n run $r: hoist deploy ${SECS}s, every host served at ${SERVE}s, CPU ${CPU_FLEET}s on the fleet + ${CPU_HERE}s here"
			# hoist hands the old instance's drain and stop to systemd (2 s
			# later): let that finish before the next measurement.
			sleep 4

			serve_timed "$dir/rollback-$r.log" bench.test not "$new" "$n" hoist_t "$app" --timings rollback bench
			[ "$RC" -eq 0 ] || { cat "$dir/rollback-$r.log" >&2; return 1; }
			rb+=("$SECS") rb_serve+=("$SERVE")
			log "compare n=$n run $r: hoist rollback ${SECS}s, every host served the old version at ${SERVE}s"
			serving "$n" "$prev" || log "warning: after the rollback not every host serves $prev"
			sleep 4

			# What the checks cost: the same deploy without them (issue 9:
			# at most 0.5 s more with them).
			bump "$app"
			serve_timed "$dir/skip-checks-$r.log" bench.test is "$(cat "$app/VERSION")" "$n" hoist_t "$app" --timings deploy --skip-checks bench
			[ "$RC" -eq 0 ] || { cat "$dir/skip-checks-$r.log" >&2; return 1; }
			sk+=("$SECS") sk_cpu+=("$CPU_FLEET+$CPU_HERE")
			log "compare n=$n run $r: hoist deploy --skip-checks ${SECS}s, CPU ${CPU_FLEET}s on the fleet + ${CPU_HERE}s here"
			sleep 4
			result compare-run "$n" "$r" "$others" "$load1" "${plain[-1]}" "${plain_serve[-1]}" "${hd[-1]}" "${hd_serve[-1]}" \
				"${rb[-1]}" "${rb_serve[-1]}" "${sk[-1]}" "$(ssh_commands "$dir/deploy-$r.log")" "$(ssh_commands "$dir/rollback-$r.log")" \
				"${plain_cpu[-1]}" "${hd_cpu[-1]}" "${sk_cpu[-1]}"
		done
		# One deploy's and one rollback's --timings table, on their own
		# (every run's log has its table too).
		sed -n '/^step /,$p' "$dir/deploy-1.log" >"$dir/timings-deploy.txt"
		sed -n '/^step /,$p' "$dir/rollback-1.log" >"$dir/timings-rollback.txt"

		m_p=$(median "${plain[@]}")
		m_ps=$(median "${plain_serve[@]}")
		m_h=$(median "${hd[@]}")
		m_hs=$(median "${hd_serve[@]}")
		m_r=$(median "${rb[@]}")
		m_rs=$(median "${rb_serve[@]}")
		m_sk=$(median "${sk[@]}")
		ssh_d=$(ssh_commands "$dir"/deploy-[0-9]*.log)
		ssh_r=$(ssh_commands "$dir"/rollback-[0-9]*.log)
		result compare "$n" "$RUNS" "$m_p" "$m_ps" "$m_h" "$(ratio "$m_h" "$m_p")" "$m_hs" "$(ratio "$m_hs" "$m_p")" \
			"$m_r" "$m_rs" "$m_sk" "$ssh_d" "$ssh_r" "$POLL_INTERVAL"
		fleet_down
	done
}

# rx HOST: bytes the host's network interface received so far.
rx() {
	docker exec "$(host_field "$1" container)" cat /sys/class/net/eth0/statistics/rx_bytes
}

# bench_container: strategy container on BENCH_CONTAINER_HOSTS hosts (default
# 3) sharing PostgreSQL, each with its own Docker engine. In one run: hoist's
# first deploy (every host lacks the image), a code-only redeploy, RUNS
# times, and each time the way seed 003 ships an image, the whole of it:
# docker save | ssh HOST docker load, to every host in parallel. Bytes are
# what web1's network interface received during the command.
bench_container() {
	local n=${BENCH_CONTAINER_HOSTS:-3} dir=$OUT/container app base i r b0 ref hosts=()
	app=$dir/app
	mkdir -p "$dir"
	fleet_up container "$n" --db
	for ((i = 1; i <= n; i++)); do
		hosts+=("web$i")
	done
	base=$("$FLEET" pybase)
	new_app "$app" "$n"
	# The same app as strategy container, on the Debian-built base image.
	sed -i "s|^system_site_packages: true\$|strategy: container\ncontainer:\n  build_args: {BASE: \"$base\"}|; /^requirements: /d" "$app/hoist.yml"
	git -C "$app" commit -q -am "bench: strategy container"
	timed "$dir/setup.log" hoist_in "$app" setup bench
	[ "$RC" -eq 0 ] || { cat "$dir/setup.log" >&2; return 1; }

	b0=$(rx web1)
	timed "$dir/first-deploy.log" hoist_in "$app" deploy bench
	[ "$RC" -eq 0 ] || { cat "$dir/first-deploy.log" >&2; return 1; }
	result container "$n" "hoist first deploy" "$SECS" "$(($(rx web1) - b0))"
	log "container: first deploy ${SECS}s"
	for ((r = 1; r <= RUNS; r++)); do
		bump "$app"
		b0=$(rx web1)
		timed "$dir/redeploy-$r.log" hoist_in "$app" deploy bench
		[ "$RC" -eq 0 ] || { cat "$dir/redeploy-$r.log" >&2; return 1; }
		result container "$n" "hoist code-only redeploy" "$SECS" "$(($(rx web1) - b0))"
		log "container: code-only redeploy ${SECS}s"
		serving "$n" "$(cat "$app/VERSION")"
		sleep 3

		ref=hoist-notes:$(docker exec "$(host_field web1 container)" sh -c 'basename "$(readlink /srv/notes/current)"')
		b0=$(rx web1)
		timed "$dir/save-load-$r.log" save_load "$ref" "${hosts[@]}"
		[ "$RC" -eq 0 ] || { cat "$dir/save-load-$r.log" >&2; return 1; }
		result container "$n" "whole image: docker save, ssh, docker load (seed 003)" "$SECS" "$(($(rx web1) - b0))"
		log "container: whole image (docker save, ssh, docker load) ${SECS}s"
	done
	fleet_down
}

# save_load REF HOST...: seed 003's transfer, to every host at once.
save_load() {
	local ref=$1 h pids=() rc=0
	shift
	for h in "$@"; do
		docker save "$ref" | HOME=$FLEET_HOME ssh -F "$FLEET_HOME/.ssh/config" "$h" sudo docker load &
		pids+=($!)
	done
	for h in "${pids[@]}"; do
		wait "$h" || rc=1
	done
	return $rc
}

case $what in
all)
	bench_load
	bench_deploy_time
	bench_compare
	bench_container
	;;
load) bench_load ;;
deploy-time) bench_deploy_time ;;
compare) bench_compare ;;
container) bench_container ;;
esac

# The summary: the same numbers as the logs above, as tables.
echo
echo "== machine"
cat "$OUT/machine.txt"
if grep -q '^load' "$OUT/results.tsv"; then
	echo
	echo "== zero downtime under load (3 hosts, wrk -t1 -c$LOAD_CONNS per host; failed = socket errors + non-2xx/3xx)"
	{
		printf 'phase\tcmd_s\texit\trequests\treq/s\tfailed\tmax_ms\tp99_ms\tload1\tstatus codes if any failed\n'
		grep '^load' "$OUT/results.tsv" | cut -f2-
	} | column -t -s $'\t'
fi
if grep -q '^deploy-time' "$OUT/results.tsv"; then
	echo
	echo "== deploy wall time in seconds (PostgreSQL shared by the web hosts)"
	{
		printf 'hosts\twhat\truns\tmean\tmin\tmax\tswitched at\teach run\n'
		grep '^deploy-time' "$OUT/results.tsv" | cut -f2-
	} | column -t -s $'\t'
fi
if grep -q '^compare	' "$OUT/results.tsv"; then
	echo
	echo "== hoist beside a plain deploy script (bench/plain-deploy.sh), medians in seconds"
	echo "   (ratio = hoist / plain script's wall time; \"serves\" = from the command's start until every"
	echo "   host's nginx answered with the new version; ssh = SSH commands per host, from --timings)"
	echo
	echo "| hosts | runs | plain script | plain, until every host serves | hoist, whole command | ratio | hoist, until every host serves | ratio | hoist rollback | rollback, until every host serves | hoist deploy --skip-checks | ssh commands per host: deploy / rollback |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	awk -F'\t' '$1 == "compare" {printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n", $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14}' "$OUT/results.tsv"
	echo
	echo "each run (seconds; CPU = fleet + this machine, see timed in bench/lib.sh):"
	{
		printf 'hosts\trun\tother containers\tload1\tplain\tplain serves\thoist deploy\thoist serves\trollback\trollback serves\tskip-checks\tssh deploy\tssh rollback\tCPU plain\tCPU hoist\tCPU skip-checks\n'
		grep '^compare-run' "$OUT/results.tsv" | cut -f2-
	} | column -t -s $'\t'
fi
if grep -q '^container' "$OUT/results.tsv"; then
	echo
	echo "== strategy container: wall time and bytes received by web1 (every host gets the same)"
	echo
	echo "| hosts | what | seconds | KiB received by web1 |"
	echo "|---|---|---|---|"
	awk -F'\t' '$1 == "container" {printf "| %s | %s | %s | %d |\n", $2, $3, $4, $5 / 1024}' "$OUT/results.tsv"
fi
echo
echo "logs: $OUT"
