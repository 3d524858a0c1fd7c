#!/bin/bash
# Builds the hoist test fleet's host image: a minimal Debian bookworm with
# systemd as PID 1, sshd, nginx, caddy, python3/Django/gunicorn, PostgreSQL and
# a Docker engine (not started at boot), all from Debian (no registry can be
# pulled from on our machines).
#
# Usage: build-image.sh IMAGE[:TAG]
# The Go package test/fleet calls this with a tag that hashes every file in
# this directory and in ../rootfs, so edit anything there and the image is
# rebuilt.
#
# Env: see rootfs.sh (the Go side puts it beside this script).
set -euo pipefail

image=${1:?usage: build-image.sh IMAGE[:TAG]}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/rootfs.sh"

packages=(
	systemd systemd-sysv dbus
	openssh-server sudo
	nginx caddy
	# libjs-jquery: python3-django recommends it (apt installs recommends on a
	# real server) and the admin's static files link to it.
	python3 python3-venv python3-django libjs-jquery gunicorn python3-psycopg2
	postgresql
	# Background workers and offline compression (issue 8's example app):
	# Redis as Celery's broker on the db host, Celery and django-compressor
	# from Debian.
	redis-server python3-celery python3-redis python3-django-compressor
	# The container strategy: each host runs its own engine, which hoist
	# setup starts (it is off at boot, as on a server that never ran it).
	docker.io
	ca-certificates iproute2 procps curl less
)

make_rootfs "${packages[@]}"

in_root() { chroot "$root" "$@"; }

echo ">>> configuring"
# Users: deploy is what hoist logs in as (passwordless sudo, as on a typical
# server); nosudo exists for the "sudo is missing" error path.
in_root useradd --create-home --uid 1000 --shell /bin/bash deploy
in_root useradd --create-home --uid 1001 --shell /bin/bash nosudo
echo 'deploy ALL=(ALL) NOPASSWD:ALL' >"$root/etc/sudoers.d/deploy"
chmod 0440 "$root/etc/sudoers.d/deploy"
for u in deploy nosudo; do
	install -d -m 0700 "$root/home/$u/.ssh"
	install -m 0600 /dev/null "$root/home/$u/.ssh/authorized_keys"
	in_root chown -R "$u:$u" "/home/$u/.ssh"
done
# No password for root, and none can be used to log in (locked).
in_root usermod -p '*' root

# SSH: no host keys in the image; each container makes its own at boot.
rm -f "$root"/etc/ssh/ssh_host_*
install -m 0644 "$here/sshd.conf" "$root/etc/ssh/sshd_config.d/hoist-fleet.conf"
install -m 0644 "$here/ssh-hostkeys.service" "$root/etc/systemd/system/ssh-hostkeys.service"
in_root systemctl enable ssh-hostkeys.service ssh.service

# PostgreSQL and caddy are installed everywhere but started only where a test
# wants them: caddy's default site would fight nginx for port 80, and only the
# "db" host runs PostgreSQL. nginx keeps Debian's default site, as a fresh
# server has it.
in_root systemctl disable postgresql.service caddy.service redis-server.service
in_root systemctl enable nginx.service
# Docker is installed but off: hoist setup must start it. Its containerd
# stays off too until docker asks for it (docker.service wants it).
in_root systemctl disable docker.service docker.socket containerd.service
# The hosts' engine runs without iptables, like the one running the fleet:
# iptables cannot be used on our machines.
install -d -m 0755 "$root/etc/docker"
echo '{"iptables": false}' >"$root/etc/docker/daemon.json"
pgconf=$(echo "$root"/etc/postgresql/*/main)
sed -i "s/^#\?listen_addresses = .*/listen_addresses = '*'/" "$pgconf/postgresql.conf"
# initdb picks the first free port at install time, and debootstrap's chroot
# shares this machine's network: with a PostgreSQL running here the cluster
# would get 5433. The fleet relies on 5432 (and checks it at start).
sed -i "s/^#\?port = .*/port = 5432/" "$pgconf/postgresql.conf"
grep -q '^port = 5432' "$pgconf/postgresql.conf"
# Redis serves the fleet's other hosts as a broker: listen on every address.
sed -i -e 's/^bind .*/bind 0.0.0.0/' -e 's/^protected-mode yes/protected-mode no/' "$root/etc/redis/redis.conf"
echo 'host all all 0.0.0.0/0 scram-sha-256' >>"$pgconf/pg_hba.conf"

# Units that make no sense in a container and would only fail or wait.
in_root systemctl mask \
	getty@tty1.service serial-getty@.service console-getty.service \
	systemd-remount-fs.service systemd-udevd.service systemd-udev-trigger.service \
	systemd-modules-load.service sys-kernel-debug.mount sys-kernel-tracing.mount \
	systemd-firstboot.service

# An empty machine-id makes systemd generate a fresh one per container.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# Docker provides these at run time.
: >"$root/etc/resolv.conf"
echo localhost >"$root/etc/hostname"

slim_rootfs

echo ">>> importing as $image"
# (docker 20.10's import refuses STOPSIGNAL: the fleet passes --stop-signal.)
tar --numeric-owner --xattrs -C "$root" -c . | docker import \
	--change 'ENV container=docker' \
	--change 'CMD ["/lib/systemd/systemd"]' \
	--message "hoist test fleet host (build-image.sh)" \
	- "$image"
echo ">>> built $image"
