#!/bin/bash
# Deploys the bundled example app (examples/notes) to a throwaway Debian
# server on this machine and prints the URL where it answers.
#   sudo scripts/demo.sh          # deploy (again)
#   sudo scripts/demo.sh down     # remove the server
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

demo=$PWD/.demo
if [ "${1:-}" = down ]; then
	go run ./test/fleet/cmd/fleet down --home "$demo/home" && rm -rf "$demo"
	exit 0
fi

go build -o bin/hoist ./cmd/hoist
if [ ! -f "$demo/home/fleet.json" ]; then
	echo "starting a throwaway server (the first run builds its image with debootstrap: a few minutes)"
	go run ./test/fleet/cmd/fleet up -n 1 --home "$demo/home" >/dev/null
fi
# The app's secret lives outside git, readable only by you.
if [ ! -f "$demo/secret" ]; then
	(umask 077; head -c 48 /dev/urandom | base64 | tr -d '/+=\n' > "$demo/secret")
fi
export DJANGO_SECRET_KEY=$(cat "$demo/secret")
# hoist reads ~/.ssh/config, keys and known_hosts; the demo server's are in $demo/home.
export HOME=$demo/home

bin/hoist -C examples/notes setup demo
bin/hoist -C examples/notes deploy demo
port=$(sed -n 's/.*"http_port": *\([0-9]*\).*/\1/p' "$demo/home/fleet.json" | head -n1)
curl -fsS -o /dev/null "http://127.0.0.1:$port/" && echo
echo "The notes app answers at http://127.0.0.1:$port/"
echo "Try: edit examples/notes/VERSION, commit, and run this again; then HOME=$demo/home bin/hoist -C examples/notes rollback demo"
