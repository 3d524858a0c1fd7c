# Sourced by the image recipes (image/build-image.sh, pybase/build-pybase.sh):
# the Debian root filesystem both are imported from.
#
# Env: HOIST_FLEET_DEB_CACHE=DIR  keep downloaded .debs there (faster rebuilds)
#      HOIST_FLEET_ROOTFS=DIR     build the root filesystem there (default: a temp dir)
#      HOIST_FLEET_MIRROR=URL     Debian mirror (debootstrap's default otherwise)
export LC_ALL=C.UTF-8 # for the chroot's tools; the host's locale may not exist there

# make_rootfs PACKAGE...: debootstraps bookworm (minbase) with the packages
# into $root, which is removed when the script exits.
make_rootfs() {
	# Not /tmp on a tmpfs: debootstrap needs device nodes and suid to work.
	# HOIST_FLEET_ROOTFS is a fixed directory (the Go side holds a lock on
	# it): whatever a killed build left there is cleared first.
	root=${HOIST_FLEET_ROOTFS:-$(mktemp -d "${TMPDIR:-/var/tmp}/hoist-fleet-rootfs.XXXXXX")}
	remove_rootfs
	trap remove_rootfs EXIT
	# mktemp makes it 0700: that would become the image's / and lock out
	# every user but root (postgres's initdb, for one).
	mkdir -p "$root"
	chmod 0755 "$root"

	local opts=(--variant=minbase "--include=$(IFS=,; echo "$*")")
	if [ -n "${HOIST_FLEET_DEB_CACHE:-}" ]; then
		mkdir -p "$HOIST_FLEET_DEB_CACHE"
		opts+=("--cache-dir=$(cd "$HOIST_FLEET_DEB_CACHE" && pwd)")
	fi
	echo ">>> debootstrap ${opts[*]} bookworm $root"
	debootstrap "${opts[@]}" bookworm "$root" ${HOIST_FLEET_MIRROR:-}
}

remove_rootfs() {
	# debootstrap may leave /proc and /sys mounted if it dies half-way.
	umount -R "$root/proc" "$root/sys" "$root/dev/pts" 2>/dev/null || true
	rm -rf --one-file-system "$root"
}

# slim_rootfs [PATH...]: a smaller image: no apt caches or lists (the fleet
# has no internet anyway), no docs, logs or temporary files; nor the paths
# given (below $root).
slim_rootfs() {
	chroot "$root" apt-get clean
	local extra=()
	for p in "$@"; do extra+=("$root"/$p); done
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
		"$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
		"$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/* \
		"${extra[@]}"
}
