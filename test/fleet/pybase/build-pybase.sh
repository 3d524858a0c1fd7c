#!/bin/bash
# Builds the base image of the test fleet's container apps: a minimal Debian
# bookworm with python3, Django, gunicorn and psycopg2 from Debian, imported
# into the engine running the fleet (no registry can be pulled from here).
#
# Usage: build-pybase.sh IMAGE[:TAG]
# The Go package test/fleet (PythonBase) calls this with a tag that hashes
# this directory and ../rootfs, so edit anything there and the image is
# rebuilt.
#
# Env: see rootfs.sh (the Go side puts it beside this script).
set -euo pipefail

image=${1:?usage: build-pybase.sh IMAGE[:TAG]}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/rootfs.sh"
make_rootfs python3 python3-django gunicorn python3-psycopg2 libjs-jquery

# Small: an app image ships it once per host, and the tests measure that.
# /usr/share/locale is the system tools' messages (Django's translations are
# in its own package directory).
slim_rootfs 'usr/share/locale/*'
: >"$root/etc/resolv.conf"

echo ">>> importing as $image"
tar --numeric-owner --xattrs -C "$root" -c . | docker import \
	--change 'ENV LANG=C.UTF-8 PYTHONUNBUFFERED=1' \
	--message "hoist test fleet python base (build-pybase.sh)" \
	- "$image"
echo ">>> built $image"
