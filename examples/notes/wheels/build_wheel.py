#!/usr/bin/env python3
"""Build wheels/notes_extras-1.0-py3-none-any.whl, byte for byte the same every time.

The notes example installs this wheel with pip from the local wheelhouse (PyPI is not
reachable from the test servers), so `pip install -r requirements.txt` has real work to
do. The wheel is committed; this script is how it was made:

    python3 wheels/build_wheel.py          # (re)write the wheel
    python3 wheels/build_wheel.py --check  # exit 1 if the committed wheel differs

Only the standard library is used. Entries are stored uncompressed with a fixed
timestamp and mode, in a fixed order, so the output does not depend on zlib or time.
"""
import base64
import hashlib
import os
import sys
import zipfile

NAME = "notes_extras"  # normalized distribution name, also the import package
DIST_NAME = "notes-extras"
VERSION = "1.0"
TAG = "py3-none-any"

INIT_PY = '''\
"""A tiny package for the notes example, installed from a local wheel."""

__version__ = "1.0"


def greeting():
    return "hello from notes_extras"
'''

METADATA = """\
Metadata-Version: 2.1
Name: {dist}
Version: {version}
Summary: Tiny helper package for the hoist notes example (installed from a local wheel)
License: MIT
Requires-Python: >=3.6
""".format(dist=DIST_NAME, version=VERSION)

WHEEL = """\
Wheel-Version: 1.0
Generator: build_wheel.py (hoist notes example)
Root-Is-Purelib: true
Tag: {tag}
""".format(tag=TAG)

DATE_TIME = (1980, 1, 1, 0, 0, 0)  # earliest date a zip can hold
MODE = 0o644


def record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def wheel_bytes_entries():
    dist_info = "{}-{}.dist-info".format(NAME, VERSION)
    files = [
        (NAME + "/__init__.py", INIT_PY.encode("utf-8")),
        (dist_info + "/METADATA", METADATA.encode("utf-8")),
        (dist_info + "/WHEEL", WHEEL.encode("utf-8")),
    ]
    record_lines = ["{},{},{}".format(path, record_hash(data), len(data)) for path, data in files]
    record_lines.append(dist_info + "/RECORD,,")  # RECORD cannot hash itself
    files.append((dist_info + "/RECORD", ("\n".join(record_lines) + "\n").encode("utf-8")))
    return files


def build(path):
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in wheel_bytes_entries():
            info = zipfile.ZipInfo(name, date_time=DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # unix, so external_attr carries the mode
            info.external_attr = (0o100000 | MODE) << 16  # regular file, rw-r--r--
            zf.writestr(info, data)
    os.replace(tmp, path)


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.path.join(here, "{}-{}-{}.whl".format(NAME, VERSION, TAG))
    if argv[1:] == ["--check"]:
        scratch = target + ".check"
        build(scratch)
        try:
            with open(scratch, "rb") as a, open(target, "rb") as b:
                same = a.read() == b.read()
        except FileNotFoundError:
            same = False
        finally:
            os.remove(scratch)
        if not same:
            print("{} is missing or out of date; run {}".format(target, argv[0]), file=sys.stderr)
            return 1
        print("{} is up to date".format(target))
        return 0
    if argv[1:]:
        print("usage: {} [--check]".format(argv[0]), file=sys.stderr)
        return 2
    build(target)
    print("wrote {}".format(target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
