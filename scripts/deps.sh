#!/bin/bash
# Installs what hoist's demo and tests need on a Debian machine and starts a
# Docker engine. Sourced by demo.sh and test.sh; safe to run again.
set -euo pipefail

need=()
command -v git >/dev/null || need+=(git)
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v ssh >/dev/null || need+=(openssh-client)
# hoist runs Django's checks on the deploying machine; the examples need
# Django (and psycopg2 for their PostgreSQL stages) there too.
/usr/bin/python3 -c 'import django, psycopg2' 2>/dev/null || need+=(python3-django python3-psycopg2 libjs-jquery)
# examples/tasks: its settings load Celery and django-compressor.
/usr/bin/python3 -c 'import celery, compressor, redis' 2>/dev/null || need+=(python3-celery python3-django-compressor python3-redis)
# The test that renders units and sites from hostile hoist.yml values
# checks them with the real parsers.
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v caddy >/dev/null || need+=(caddy)
# The test of the live view runs hoist in a real terminal: tmux.
command -v tmux >/dev/null || need+=(tmux)
# The test of setup's package installs serves the fleet a local APT repository.
command -v dpkg-scanpackages >/dev/null || need+=(dpkg-dev)
if ((${#need[@]})); then
	echo "installing: ${need[*]}"
	# Only the parsers are wanted: no service may start and take port 80.
	added_policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		added_policy=1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	[ -z "$added_policy" ] || rm -f /usr/sbin/policy-rc.d
	# Without policy-rc.d support (systemd as init), stop what did start.
	if [ -d /run/systemd/system ]; then
		systemctl disable --now nginx caddy >/dev/null 2>&1 || true
	fi
fi
if ! command -v go >/dev/null; then
	if [ -x /usr/local/go/bin/go ]; then
		export PATH=$PATH:/usr/local/go/bin
	else
		echo "hoist is written in Go: install Go 1.26 or newer (https://go.dev/dl) and run this again" >&2
		exit 1
	fi
fi
# The fleet's test servers are containers with systemd inside; the engine
# runs without touching the machine's firewall.
if ! docker info >/dev/null 2>&1; then
	echo "starting dockerd"
	(dockerd --iptables=false >/var/log/hoist-dockerd.log 2>&1 &)
	for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
	docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/hoist-dockerd.log" >&2; exit 1; }
fi
