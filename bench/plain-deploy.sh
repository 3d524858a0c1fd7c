#!/bin/bash
# The floor hoist's deploy is measured against (bench/run.sh compare): a
# plain shell script doing the steps of a hoist redeploy whose requirements
# did not change, on every host in parallel, over ONE OpenSSH connection and
# ONE remote command per host (`ssh HOST bash -s`, the whole per-host script,
# with the commit's tarball inside it, on stdin):
#
#   unpack the commit (git archive of HEAD) into releases/<id>, link the
#   shared dirs and the existing virtualenv, collectstatic, migrate (the first
#   host only), switch `current` atomically (ln + mv -T), prune to 5
#   releases, `sudo systemctl restart` the app's gunicorn unit.
#
# No health check, no lock, no records, no checks: that is what makes it the
# floor. (Without a lock, the other hosts do not wait for the first host's
# migration before they restart; with the unchanged models of a benchmark
# redeploy there is nothing to migrate.)
#
#   bench/plain-deploy.sh --setup ENVFILE APPDIR HOST...   # once: see below
#   bench/plain-deploy.sh APPDIR HOST...                   # a deploy
#
# --setup (the warm-up, not timed) first installs, on each host: the tree
# /srv/<app>-plain/{releases,shared/<shared dirs>,run,venv} (its own, so it
# never touches hoist's /srv/<app>), ENVFILE as shared/.env (mode 0600; KEY=
# VALUE lines, DJANGO_SETTINGS_MODULE among them), a virtualenv built once
# from the commit's requirements.txt, a systemd unit <app>-plain.service
# (gunicorn, 2 workers, Type=notify, on run/gunicorn.sock) and an nginx site
# for the name $PLAIN_SERVER_NAME (default plain.test) on port 80 beside
# hoist's site, so the plain release is served through nginx like hoist's
# and "until every host serves" can be measured the same way for both. Then
# it deploys.
#
# Environment: PLAIN_APP (default notes), PLAIN_SHARED_DIRS (default
# "media"), PLAIN_SERVER_NAME (default plain.test), PLAIN_SSH_CONFIG (the
# ssh_config to use; default ~/.ssh/config). The hosts are ssh names.
set -euo pipefail

setup=0
envfile=
if [ "${1:-}" = --setup ]; then
	setup=1
	envfile=$2
	shift 2
fi
if [ $# -lt 2 ]; then
	echo "usage: bench/plain-deploy.sh [--setup ENVFILE] APPDIR HOST..." >&2
	exit 2
fi
appdir=$1
shift

APP=${PLAIN_APP:-notes}
SHARED=${PLAIN_SHARED_DIRS:-media}
SERVER_NAME=${PLAIN_SERVER_NAME:-plain.test}
SSH_CONFIG=${PLAIN_SSH_CONFIG:-$HOME/.ssh/config}
D=/srv/$APP-plain

commit=$(git -C "$appdir" rev-parse --short HEAD)
id=$(date -u +%Y%m%dT%H%M%S%3NZ)-$commit

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The per-host script, written once: variables, the optional setup part, the
# deploy part and the tarball. PRIMARY is set per host on the ssh command
# line (bash -s reads the script from stdin; the variable comes before it).
{
	printf 'set -euo pipefail\n'
	printf 'D=%q APP=%q ID=%q SHARED=%q SERVER_NAME=%q\n' "$D" "$APP" "$id" "$SHARED" "$SERVER_NAME"
	printf 'R=$D/releases/$ID\n'
	if [ "$setup" = 1 ]; then
		printf 'SETUP_ENV=%q\n' "$(cat "$envfile")"
		cat <<'SETUP'
sudo mkdir -p "$D"
sudo chown "$(id -un):$(id -gn)" "$D"
mkdir -p "$D/releases" "$D/run"
for s in $SHARED; do mkdir -p "$D/shared/$s"; done
umask 077
printf '%s\n' "$SETUP_ENV" >"$D/shared/.env"
umask 022
sudo tee /etc/systemd/system/$APP-plain.service >/dev/null <<UNIT
# Written by hoist's bench/plain-deploy.sh --setup.
[Unit]
Description=$APP (plain deploy script benchmark)
After=network.target

[Service]
Type=notify
NotifyAccess=main
User=$(id -un)
WorkingDirectory=$D/current
EnvironmentFile=$D/shared/.env
ExecStart=$D/venv/bin/python -m gunicorn --workers 2 --timeout 30 --bind unix:$D/run/gunicorn.sock $APP.wsgi:application
KillMode=mixed
TimeoutStopSec=40

[Install]
WantedBy=multi-user.target
UNIT
sudo tee /etc/nginx/sites-enabled/$APP-plain >/dev/null <<SITE
# Written by hoist's bench/plain-deploy.sh --setup.
server {
    listen 80;
    server_name "$SERVER_NAME";
    location /static/ {
        alias $D/current/static/;
    }
    location / {
        proxy_pass http://unix:$D/run/gunicorn.sock;
        proxy_set_header Host \$http_host;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_redirect off;
    }
}
SITE
sudo systemctl daemon-reload
sudo systemctl enable -q $APP-plain.service
sudo nginx -t -q
sudo systemctl reload nginx
SETUP
	fi
	# The deploy. Tarball first into the new release; the venv must exist.
	cat <<'DEPLOY'
mkdir "$R"
base64 -d <<'TARBALL' | tar -x -C "$R"
DEPLOY
	git -C "$appdir" archive --format=tar HEAD | base64
	printf 'TARBALL\n'
	if [ "$setup" = 1 ]; then
		cat <<'VENV'
if [ ! -x "$D/venv/bin/python" ]; then
	python3 -m venv --system-site-packages "$D/venv"
	(cd "$R" && "$D/venv/bin/pip" install -q --disable-pip-version-check -r requirements.txt)
fi
VENV
	fi
	cat <<'DEPLOY'
for s in $SHARED; do
	rm -rf "${R:?}/$s"
	ln -s "$D/shared/$s" "$R/$s"
done
ln -s "$D/venv" "$R/.venv"
cd "$R"
set -a
. "$D/shared/.env"
set +a
"$D/venv/bin/python" manage.py collectstatic --noinput -v 0
if [ "$PRIMARY" = 1 ]; then
	"$D/venv/bin/python" manage.py migrate --noinput -v 0
fi
ln -sfn "$R" "$D/current.new"
mv -T "$D/current.new" "$D/current"
# Keep the 5 newest releases (the live one is the newest).
ls -1d "$D"/releases/* | sort | head -n -5 | xargs -r rm -rf
sudo systemctl restart "$APP-plain.service"
echo "serving $ID"
DEPLOY
} >"$tmp/script.sh"

# Every host at once, one ssh each; the first host is the primary.
pids=()
primary=1
for h in "$@"; do
	{
		ssh -F "$SSH_CONFIG" -o BatchMode=yes "$h" "PRIMARY=$primary bash -s" <"$tmp/script.sh" 2>&1 |
			sed "s/^/$h: /"
		exit "${PIPESTATUS[0]}"
	} &
	pids+=($!)
	primary=0
done
rc=0
for p in "${pids[@]}"; do
	wait "$p" || rc=1
done
[ "$rc" -eq 0 ] || echo "plain-deploy: failed on at least one host" >&2
exit "$rc"
