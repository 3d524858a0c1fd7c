# Helpers for bench/run.sh: fleets, the benchmark app, timed hoist runs and
# wrk load windows. Sourced, not run; expects ROOT, BENCH_DIR, OUT, HOIST and
# FLEET to be set (run.sh does that).

# Every fleet this run started, so the EXIT trap can remove them all.
FLEET_HOMES=()
# Every wrk this run started and has not reaped yet, for the same trap.
WRK_PIDS=()

log() { printf '%s  %s\n' "$(date +%T)" "$*" >&2; }

# cleanup runs on any exit (success, failure, Ctrl-C): stop our load
# generators, then remove our fleets, so nothing is left running on a
# 2-core machine that others share.
cleanup() {
	local rc=$?
	local pid home
	for pid in "${WRK_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for home in "${FLEET_HOMES[@]}"; do
		if [ -f "$home/fleet.json" ]; then
			log "removing fleet in $home"
			"$FLEET" down --home "$home" || log "could not remove the fleet in $home: remove it with: $FLEET down --home $home"
		fi
	done
	exit "$rc"
}

# fleet_up NAME N [--db]: starts a fleet of N web hosts (and a PostgreSQL
# host with --db) whose HOME is $OUT/NAME/home; sets FLEET_HOME and
# FLEET_JSON. The fleet is registered for removal before it exists, so a
# failure halfway through `fleet up` is cleaned up too.
fleet_up() {
	local name=$1 n=$2
	shift 2
	FLEET_HOME=$OUT/$name/home
	FLEET_JSON=$FLEET_HOME/fleet.json
	mkdir -p "$FLEET_HOME"
	FLEET_HOMES+=("$FLEET_HOME")
	log "starting fleet $name: $n web host(s) $*"
	"$FLEET" up -n "$n" "$@" --home "$FLEET_HOME" >/dev/null
}

# fleet_down: removes the current fleet now (the deploy-time benchmark frees
# each fleet before starting the next, larger one).
fleet_down() {
	log "removing fleet in $FLEET_HOME"
	"$FLEET" down --home "$FLEET_HOME"
}

# host_field NAME FIELD: a field of one host from the fleet JSON.
host_field() {
	jq -r --arg n "$1" ".hosts[] | select(.name == \$n) | .$2" "$FLEET_JSON"
}

# new_app DIR N: a copy of examples/notes in its own git repository, with a
# hoist.yml whose stage "bench" has hosts web1..webN and uses the fleet's
# PostgreSQL database. Same env as the notes demo stage, plus bench.test.
new_app() {
	local dir=$1 n=$2 hosts="" i
	for ((i = 1; i <= n; i++)); do
		hosts+="${hosts:+, }web$i"
	done
	rm -rf "$dir"
	cp -a "$ROOT/examples/notes" "$dir"
	cat >"$dir/hoist.yml" <<EOF
# Written by bench/run.sh: the notes example as stage "bench" on a test fleet.
app: notes
settings: notes.settings
system_site_packages: true
requirements: requirements.txt
shared_dirs: [media]
keep_releases: 5
web:
  domains: [bench.test]
env:
  DJANGO_ALLOWED_HOSTS: "bench.test,localhost,127.0.0.1"
  DJANGO_DEBUG: "off"
  DJANGO_LOG_LEVEL: "INFO"
secrets: [DJANGO_SECRET_KEY]
stages:
  bench:
    hosts: [$hosts]
    env:
      # One PostgreSQL database shared by every web host: migrations run once,
      # on the primary, so per-host sqlite files would stay unmigrated.
      DATABASE_URL: "$(jq -r .database_url "$FLEET_JSON")"
      DJANGO_SECURE_SSL_REDIRECT: "off"
      DJANGO_SESSION_COOKIE_SECURE: "off"
      DJANGO_CSRF_COOKIE_SECURE: "off"
      DJANGO_SECURE_HSTS_SECONDS: "0"
      DJANGO_SILENCED_CHECKS: "security.W004,security.W008,security.W012,security.W016"
EOF
	git -C "$dir" init -q -b main
	git -C "$dir" add -A
	git -C "$dir" commit -q -m "bench: notes example"
}

# bump DIR [requirements]: commits a new VERSION, so the next deploy is a new
# release; with "requirements", also changes requirements.txt (a comment),
# which changes the venv's hash and makes the deploy build a fresh venv.
bump() {
	local dir=$1
	date +bench-%s%N >"$dir/VERSION"
	if [ "${2:-}" = requirements ]; then
		echo "# bench $(date +%s%N)" >>"$dir/requirements.txt"
	fi
	git -C "$dir" commit -q -am "bench: $(cat "$dir/VERSION")"
}

# hoist_in APP ARGS...: runs hoist for the app against the current fleet.
hoist_in() {
	local app=$1
	shift
	HOME=$FLEET_HOME "$HOIST" -C "$app" "$@"
}

# timed LOGFILE CMD...: runs CMD with its output in LOGFILE, sets SECS to its
# wall time, T0 to when it started (epoch seconds) and RC to its exit code (never fails itself, so a load window
# still gets closed and measured when hoist fails). It also sets CPU_HERE to
# the CPU seconds CMD and its children used on this machine (hoist's checks,
# ssh, git) and CPU_FLEET to those the fleet's containers used meanwhile
# (the servers' share, with whatever else ran there): on a machine that
# runs both, their sum over the core count is a floor for the wall time.
# CMD runs in a subshell whose own times count its processes only, not
# the pollers that serve_timed runs beside it.
timed() {
	local logf=$1 t0 t1 f0
	shift
	f0=$(fleet_cpu_us)
	t0=$(date +%s.%N)
	T0=$t0
	RC=0
	(
		rc=0
		"$@" >"$logf" 2>&1 || rc=$?
		times >"$OUT/.times"
		exit "$rc"
	) || RC=$?
	t1=$(date +%s.%N)
	SECS=$(echo "$t1 - $t0" | bc -l | xargs printf '%.2f')
	CPU_HERE=$(children_cpu "$OUT/.times")
	CPU_FLEET=$(echo "($(fleet_cpu_us) - $f0) / 1000000" | bc -l | xargs printf '%.2f')
}

# children_cpu FILE: user + system seconds of a shell's finished children,
# from the output of bash's times (its second line) in FILE.
children_cpu() {
	tail -n 1 "$1" | awk '{
		n = 0
		for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); n += p[1] * 60 + p[2] }
		printf "%.2f", n
	}'
}

# fleet_cpu_us: CPU microseconds used so far by every running fleet
# container (cgroup v1 cpuacct or v2 cpu.stat), 0 where neither is found.
fleet_cpu_us() {
	local total=0 id f
	for id in $(docker ps -q --no-trunc --filter name=hoist-fleet-); do
		if f=/sys/fs/cgroup/cpuacct/docker/$id/cpuacct.usage && [ -r "$f" ]; then
			total=$((total + $(cat "$f") / 1000))
		elif f=/sys/fs/cgroup/system.slice/docker-$id.scope/cpu.stat && [ -r "$f" ]; then
			total=$((total + $(awk '$1 == "usage_usec" {print $2}' "$f")))
		fi
	done
	echo "$total"
}

# result KEY VALUE...: one tab-separated line of the run's results table.
result() {
	local IFS=$'\t'
	echo "$*" >>"$OUT/results.tsv"
}

# bench_field FILE KEY: a value from the BENCH line errors.lua prints.
bench_field() {
	grep -o "[ ]$2=[^ ]*" "$1" | head -n1 | cut -d= -f2
}

# load_window NAME N CMD...: puts wrk load on web1..webN at once, runs CMD
# (timed) LOAD_LEAD seconds in, stops the load LOAD_TAIL seconds after CMD
# ends, and records requests, failures and worst latency over all hosts.
#
# wrk runs with a long -d (an upper bound, so it can never run away) and is
# stopped with SIGINT, on which it prints its summary: that way the window
# follows the real length of the hoist command. --timeout 10s: a request
# slower than that is counted as failed (wrk's "timeout" socket error);
# anything faster counts as latency.
load_window() {
	local name=$1 n=$2 i port pids=() dir=$OUT/load
	shift 2
	mkdir -p "$dir"
	# The machine's load when the window opens: others' work skews latency.
	local load1
	load1=$(cut -d' ' -f1 /proc/loadavg)
	for ((i = 1; i <= n; i++)); do
		port=$(host_field "web$i" http_port)
		wrk -t1 -c"$LOAD_CONNS" -d600s --timeout 10s --latency -s "$BENCH_DIR/errors.lua" \
			-H 'Host: bench.test' "http://127.0.0.1:$port/" >"$dir/$name-web$i.wrk" 2>&1 &
		pids+=($!)
		WRK_PIDS+=($!)
	done
	# wrk gives one max for the whole window; the probe says *when* the slow
	# requests happened, so a pause at the switch can be told apart from the
	# build competing with gunicorn for the CPU.
	probe "$(host_field web1 http_port)" "$dir/$name-probe.txt" &
	local probe_pid=$!
	WRK_PIDS+=($probe_pid)
	sleep "$LOAD_LEAD"
	log "$name: running: $* (load on $n host(s))"
	timed "$dir/$name.log" "$@"
	sleep "$LOAD_TAIL"
	kill -INT "${pids[@]}"
	kill "$probe_pid"
	for i in "${pids[@]}" "$probe_pid"; do
		wait "$i" || true
	done
	WRK_PIDS=()
	# The probe's five slowest requests, as seconds after the command started.
	awk -v t0="$T0" '{printf "%+.1fs after start: HTTP %s in %.3fs\n", $1 - t0, $2, $3}' "$dir/$name-probe.txt" |
		sort -t" " -k7 -g -r | head -n5 >"$dir/$name-probe-slowest.txt"

	local req=0 failed=0 max=0 p99=0 secs=0 f r bad codes="" m d
	for ((i = 1; i <= n; i++)); do
		f=$dir/$name-web$i.wrk
		if ! grep -q '^BENCH ' "$f"; then
			log "$name: wrk on web$i printed no summary:"
			cat "$f" >&2
			return 1
		fi
		r=$(bench_field "$f" requests)
		bad=$(($(bench_field "$f" connect) + $(bench_field "$f" read) + $(bench_field "$f" write) +
			$(bench_field "$f" timeout) + $(bench_field "$f" bad_status)))
		req=$((req + r))
		failed=$((failed + bad))
		m=$(bench_field "$f" max_ms)
		max=$(echo "if ($m > $max) $m else $max" | bc -l)
		m=$(bench_field "$f" p99_ms)
		p99=$(echo "if ($m > $p99) $m else $p99" | bc -l)
		d=$(bench_field "$f" duration_s)
		secs=$(echo "if ($d > $secs) $d else $secs" | bc -l)
		codes+="web$i[$(bench_field "$f" codes)] "
		if [ "$bad" -gt 0 ]; then
			# What nginx saw: the reason for a 502 or a reset is in its log.
			log "$name: $bad failed request(s) on web$i; wrk said:"
			cat "$f" >&2
			docker exec "$(host_field "web$i" container)" tail -n 30 /var/log/nginx/error.log \
				>"$dir/$name-web$i.nginx-error.log" 2>&1 || true
			log "nginx error.log tail saved in $dir/$name-web$i.nginx-error.log"
		fi
	done
	local rps
	rps=$(echo "$req / $secs" | bc -l | xargs printf '%.0f')
	log "$name: exit $RC in ${SECS}s; $req requests ($rps/s), $failed failed, worst latency ${max} ms; $codes"
	log "$name: slowest probe requests on web1: $(paste -sd';' "$dir/$name-probe-slowest.txt")"
	[ "$failed" -gt 0 ] || codes="-"
	if [ "$RC" -ne 0 ]; then
		log "$name: the command failed; its output:"
		cat "$dir/$name.log" >&2
	fi
	result load "$name" "$SECS" "$RC" "$req" "$rps" "$failed" "$max" "$p99" "$load1" "$codes"
}

# probe PORT FILE: one request to web1 every 0.2 s, each logged as
# "epoch status seconds", until killed.
probe() {
	local port=$1 out=$2
	while :; do
		printf '%s %s\n' "$(date +%s.%N)" \
			"$(curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}' -H 'Host: bench.test' "http://127.0.0.1:$port/")" >>"$out"
		sleep 0.2
	done
}

# serving N WANT: checks every host serves VERSION WANT (through nginx,
# as a user would see it), so a "zero failures" result is known to have
# crossed a real switch.
serving() {
	local n=$1 want=$2 i port got
	for ((i = 1; i <= n; i++)); do
		port=$(host_field "web$i" http_port)
		got=$(curl -fsS -H 'Host: bench.test' "http://127.0.0.1:$port/api/notes" | jq -r .version)
		if [ "$got" != "$want" ]; then
			log "web$i serves version '$got', expected '$want'"
			return 1
		fi
	done
}

# --- compare: hoist beside a plain deploy script ----------------------------

# plain_env FILE: the environment file bench/plain-deploy.sh --setup installs:
# the same values as the hoist stage new_app writes, but for the host name
# plain.test (the plain script's nginx site).
plain_env() {
	cat >"$1" <<EOF2
DJANGO_SETTINGS_MODULE=notes.settings
DJANGO_SECRET_KEY=$DJANGO_SECRET_KEY
DATABASE_URL=$(jq -r .database_url "$FLEET_JSON")
DJANGO_ALLOWED_HOSTS=plain.test,localhost,127.0.0.1
DJANGO_DEBUG=off
DJANGO_LOG_LEVEL=INFO
DJANGO_SECURE_SSL_REDIRECT=off
DJANGO_SESSION_COOKIE_SECURE=off
DJANGO_CSRF_COOKIE_SECURE=off
DJANGO_SECURE_HSTS_SECONDS=0
DJANGO_SILENCED_CHECKS=security.W004,security.W008,security.W012,security.W016
EOF2
	chmod 600 "$1"
}

# plain_in ARGS...: bench/plain-deploy.sh against the current fleet (its
# ssh config, key and known_hosts).
plain_in() {
	HOME=$FLEET_HOME PLAIN_SSH_CONFIG=$FLEET_HOME/.ssh/config "$BENCH_DIR/plain-deploy.sh" "$@"
}

# poll_version PORT HOSTNAME is|not VERSION OUTFILE INTERVAL: asks the host's
# nginx for /api/notes (Host: HOSTNAME) every INTERVAL s until the version it
# serves is (is) or is no longer (not) VERSION, then writes when that answer
# came ($EPOCHREALTIME) into OUTFILE. Gives up after 120 s.
poll_version() {
	local port=$1 name=$2 mode=$3 want=$4 out=$5 interval=$6 body v
	local deadline=$((SECONDS + 120))
	while [ "$SECONDS" -lt "$deadline" ]; do
		body=$(curl -s -m 2 -H "Host: $name" "http://127.0.0.1:$port/api/notes" || true)
		if [[ $body =~ \"version\":\ *\"([^\"]*)\" ]]; then
			v=${BASH_REMATCH[1]}
			if { [ "$mode" = is ] && [ "$v" = "$want" ]; } || { [ "$mode" = not ] && [ "$v" != "$want" ]; }; then
				echo "$EPOCHREALTIME" >"$out"
				return 0
			fi
		fi
		sleep "$interval"
	done
	return 1
}

# serve_timed LOG HOSTNAME is|not VERSION N CMD...: runs CMD like timed (SECS,
# T0, RC, output in LOG) while polling web1..webN through nginx, and sets
# SERVE to the seconds from CMD's start until the last host answered with the
# version asked for ("?" if one never did). The pollers start before the
# command and keep going after it ends (a plain restart serves only once
# gunicorn's workers have booted).
serve_timed() {
	local logf=$1 name=$2 mode=$3 want=$4 n=$5 i pids=() ports=() p last=0 t ok=1
	shift 5
	for ((i = 1; i <= n; i++)); do
		ports+=("$(host_field "web$i" http_port)")
		rm -f "$logf.seen-web$i"
	done
	for ((i = 1; i <= n; i++)); do
		poll_version "${ports[i - 1]}" "$name" "$mode" "$want" "$logf.seen-web$i" "$POLL_INTERVAL" &
		pids+=($!)
		WRK_PIDS+=($!)
	done
	timed "$logf" "$@"
	if [ "$RC" -ne 0 ]; then
		kill "${pids[@]}" 2>/dev/null || true
	fi
	for p in "${pids[@]}"; do
		wait "$p" || true
	done
	WRK_PIDS=()
	for ((i = 1; i <= n; i++)); do
		if [ -s "$logf.seen-web$i" ]; then
			t=$(cat "$logf.seen-web$i")
			last=$(echo "if ($t > $last) $t else $last" | bc -l)
		else
			ok=0
			log "web$i never answered with version $mode $want (Host: $name)"
		fi
	done
	SERVE="?"
	[ "$ok" = 1 ] && SERVE=$(echo "$last - $T0" | bc -l | xargs printf '%.2f')
	return 0
}

# median NUMBER...: the median ("?" among them: "?").
median() {
	local v
	for v in "$@"; do
		[ "$v" = "?" ] && { echo "?"; return; }
	done
	printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {if (NR % 2) m = a[(NR + 1) / 2]; else m = (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f", m}'
}

# ratio A B: A/B to two decimals with an "x" ("?" if either is unknown).
ratio() {
	if [ "$1" = "?" ] || [ "$2" = "?" ]; then
		echo "?"
	else
		echo "$1 / $2" | bc -l | xargs printf '%.2fx'
	fi
}

# ssh_commands LOG: the per-host SSH command counts from hoist --timings'
# "ssh commands per host: web1 35, web2 33" line, as "MIN-MAX" ("?" if none).
ssh_commands() {
	grep -h '^ssh commands per host:' "$@" 2>/dev/null | sed 's/^ssh commands per host://' | tr ',' '\n' |
		awk 'NF == 2 {if (min == "" || $2 < min) min = $2; if ($2 > max) max = $2} END {if (min == "") print "?"; else if (min == max) print min; else print min "-" max}'
}
