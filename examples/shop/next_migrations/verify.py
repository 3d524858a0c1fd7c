#!/usr/bin/env python3
"""Checks the shop example's migration history and every next_migrations case.

Runs on a temporary copy of the app, so this tree is never modified. Needs only the
standard library here; Django (and psycopg2 for PostgreSQL) come from the Python that
runs manage.py.

    python3 next_migrations/verify.py                 # sqlite, in a temporary directory
    DATABASE_URL=postgres://user:pass@host/db python3 next_migrations/verify.py
    python3 next_migrations/verify.py add_column rename_column   # only these cases

The PostgreSQL database must be a throwaway one: its catalog tables are dropped
(`migrate catalog zero`) at the start and at the end. PYTHON picks the interpreter for
manage.py (default: the one running this script).

For every case it checks, with the case's models.py and 0006 copied in:
  - makemigrations --check --dry-run finds no changes;
  - migrate applies 0006 (the failing case must fail and leave nothing behind);
  - the new code's GET and POST /api/products work and show the new schema;
  - what the old code (the app as it is here) gets from the migrated database;
  - migrate catalog 0005 reverses it (irreversible: IrreversibleError, then --fake);
  - the restored app again has no model changes.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.dirname(HERE)
PYTHON = os.environ.get("PYTHON") or sys.executable

CASES = ["add_column", "drop_column", "irreversible", "not_null_no_default",
         "rename_column", "failing"]
BASE_COLUMNS = ["id", "name", "sku", "price", "created", "category_id"]

# What each case does to catalog_product's columns, and what the old code (this app
# without the case's files) gets from GET and POST /api/products afterwards.
EXPECT = {
    "add_column": {"columns": BASE_COLUMNS + ["description"], "old": (200, 201)},
    "drop_column": {"columns": [c for c in BASE_COLUMNS if c != "created"], "old": (500, 500)},
    "irreversible": {"columns": BASE_COLUMNS, "old": (200, 201)},
    "not_null_no_default": {"columns": BASE_COLUMNS + ["stock"], "old": (200, 500)},
    "rename_column": {"columns": ["title" if c == "name" else c for c in BASE_COLUMNS],
                      "old": (500, 500)},
    "failing": {"columns": BASE_COLUMNS},
}

failures = []


def check(ok, what):
    print("  %s %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        failures.append(what)
    return ok


class App:
    def __init__(self, root, env):
        self.root, self.env = root, env

    def manage(self, *args, expect=0):
        """Runs manage.py; expect=0 wants success, expect=1 wants failure."""
        proc = subprocess.run([PYTHON, "manage.py"] + list(args), cwd=self.root, env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)
        if (proc.returncode == 0) != (expect == 0):
            print(proc.stdout)
            check(False, "manage.py %s: exit %d" % (" ".join(args), proc.returncode))
        return proc.returncode, proc.stdout

    def shell(self, code):
        """Runs code in `manage.py shell`; it prints one JSON value, returned here."""
        rc, out = self.manage("shell", "-c", code)
        lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
        if rc or not lines:
            print(out)
            raise SystemExit("manage.py shell failed")
        return json.loads(lines[-1][len("RESULT "):])

    def copy_in(self, case):
        src = os.path.join(HERE, case)
        # A case that changes no model has no models.py of its own.
        if os.path.exists(os.path.join(src, "models.py")):
            shutil.copy(os.path.join(src, "models.py"), os.path.join(self.root, "catalog", "models.py"))
        for name in os.listdir(src):
            if name.startswith("0006_") and name.endswith(".py"):
                shutil.copy(os.path.join(src, name), os.path.join(self.root, "catalog", "migrations"))

    def restore(self):
        shutil.copy(os.path.join(APP, "catalog", "models.py"),
                    os.path.join(self.root, "catalog", "models.py"))
        migrations = os.path.join(self.root, "catalog", "migrations")
        for name in os.listdir(migrations):
            if name.startswith("0006_"):
                os.remove(os.path.join(migrations, name))
        shutil.rmtree(os.path.join(migrations, "__pycache__"), ignore_errors=True)

    def state(self):
        """Applied catalog migrations, catalog tables, product columns."""
        return self.shell(r"""
import json
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
applied = sorted(MigrationRecorder(connection).applied_migrations())
tables = sorted(t for t in connection.introspection.table_names() if t.startswith("catalog_"))
columns = []
if "catalog_product" in tables:
    with connection.cursor() as cursor:
        columns = [c.name for c in connection.introspection.get_table_description(cursor, "catalog_product")]
print("RESULT " + json.dumps({"applied": [n for a, n in applied if a == "catalog"],
                             "tables": tables, "columns": columns}))
""")

    def rows(self, table, fields):
        return self.shell(r"""
import json
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT %s FROM %s ORDER BY id")
    print("RESULT " + json.dumps([[str(v) if v is not None else None for v in r] for r in cursor.fetchall()]))
""" % (", ".join(fields), table))

    def sql(self, statement, params=()):
        """Runs one statement; returns None or the database error's class name."""
        return self.shell(r"""
import json
from django.db import DatabaseError, connection, transaction
try:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(%r, %r)
    print("RESULT null")
except DatabaseError as e:
    print("RESULT " + json.dumps(type(e).__name__))
""" % (statement, list(params)))

    def probe(self, tag):
        """GET and POST /api/products with the code as it is now in the copy."""
        return self.shell(r"""
import json, uuid
from django.test import Client
from catalog.models import Product
client = Client(raise_request_exception=False)
get = client.get("/api/products")
names = [f.name for f in Product._meta.concrete_fields]
data = {"sku": "PROBE-" + uuid.uuid4().hex[:8], "price": "2.50", "category": "Probe",
        ("title" if "title" in names else "name"): "probe %s"}
if "stock" in names:
    data["stock"] = "3"
post = client.post("/api/products", data)
body = get.content.decode() if get.status_code == 200 else ""
print("RESULT " + json.dumps({"get": get.status_code, "post": post.status_code,
                             "fields": json.loads(body)["fields"] if body else None}))
""" % tag)


def main():
    only = sys.argv[1:]
    for case in only:
        if case not in CASES:
            raise SystemExit("unknown case %r (cases: %s)" % (case, " ".join(CASES)))
    tmp = tempfile.mkdtemp(prefix="shop-verify-")
    try:
        root = os.path.join(tmp, "shop")
        shutil.copytree(APP, root, ignore=lambda d, names: [
            n for n in names if n in ("__pycache__", ".venv")
            or (d == APP and n in ("static", "media", "db.sqlite3", "db.sqlite3-journal"))])
        env = dict(os.environ)
        env.update({
            "DJANGO_SETTINGS_MODULE": "shop.settings",
            "DJANGO_SECRET_KEY": "verify-migrations-not-secret-" + "x" * 40,
            "DJANGO_DEBUG": "off",
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "DJANGO_SECURE_SSL_REDIRECT": "off",
            "DJANGO_LOG_LEVEL": "CRITICAL",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        env.setdefault("DATABASE_URL", "sqlite:///" + os.path.join(tmp, "db.sqlite3"))
        print("python: %s\ndatabase: %s" % (PYTHON, env["DATABASE_URL"].split("@")[-1]))
        app = App(root, env)
        app.manage("migrate", "catalog", "zero")
        run_history(app)
        for case in only or CASES:
            run_case(app, case)
        print("full reverse")
        app.manage("migrate", "catalog", "zero")
        st = app.state()
        check(st["tables"] == [] and st["applied"] == [], "migrate catalog zero drops every catalog table")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("\n%d FAILED:\n  %s" % (len(failures), "\n  ".join(failures)))
        return 1
    print("\nall checks passed")
    return 0


def run_history(app):
    print("history 0001-0005")
    rc, out = app.manage("makemigrations", "--check", "--dry-run")
    check(rc == 0 and "No changes detected" in out, "makemigrations --check --dry-run: no changes")
    app.manage("migrate", "catalog", "0002")
    # Rows that exist before the sku column is filled: 0003 must fill them, 0004 and
    # 0005 add constraints over them.
    app.sql("INSERT INTO catalog_category (name) VALUES ('Books'), ('Garden')")
    for name, price, category in [("Blue Mug", "4.50", "Books"), ("Blue Mug", "5.00", "Books"),
                                  ("Tent", "99.00", "Garden"), ("Ünïcode tent!", "0", "Garden")]:
        app.sql("INSERT INTO catalog_product (name, price, category_id, created) "
                "SELECT %s, %s, id, CURRENT_TIMESTAMP FROM catalog_category WHERE name = %s",
                [name, price, category])
    app.manage("migrate")
    st = app.state()
    check(st["applied"][-1] == "0005_product_price_gte_0" and sorted(st["columns"]) == sorted(BASE_COLUMNS),
          "migrate applies 0001-0005 over existing rows")
    skus = app.rows("catalog_product", ["id", "sku"])
    check([s for _, s in skus] == ["BLUE-MUG", "BLUE-MUG-%s" % skus[1][0], "TENT", "UNICODE-TENT"],
          "0003 filled sku from the name, unique: %s" % [s for _, s in skus])
    check(app.sql("INSERT INTO catalog_product (name, sku, price, category_id, created) "
                  "SELECT 'x', 'NEG', -1, id, CURRENT_TIMESTAMP FROM catalog_category WHERE name = 'Books'")
          == "IntegrityError", "0005's check constraint rejects a negative price")
    check(app.sql("INSERT INTO catalog_product (name, sku, price, category_id, created) "
                  "SELECT 'x', 'TENT', 1, id, CURRENT_TIMESTAMP FROM catalog_category WHERE name = 'Books'")
          == "IntegrityError", "0004's unique constraint rejects a duplicate sku")
    check(app.sql("INSERT INTO catalog_product (name, price, category_id, created) "
                  "SELECT 'x', 1, id, CURRENT_TIMESTAMP FROM catalog_category WHERE name = 'Books'")
          == "IntegrityError", "0004 made sku NOT NULL")

    app.manage("migrate", "catalog", "0002")
    st = app.state()
    check(st["applied"][-1] == "0002_product_sku", "migrate catalog 0002 reverses 0005, 0004, 0003")
    check([s for _, s in app.rows("catalog_product", ["id", "sku"])] == [None] * 4,
          "0003 reversed: sku is NULL again")
    app.manage("migrate", "catalog", "0004")
    app.sql("UPDATE catalog_product SET price = -1 WHERE name = 'Tent'")
    rc, out = app.manage("migrate", "catalog", "0005", expect=1)
    check(rc != 0 and app.state()["applied"][-1] == "0004_alter_product_sku",
          "0005 fails over an existing negative price and is not recorded")
    app.sql("UPDATE catalog_product SET price = 99 WHERE name = 'Tent'")
    app.manage("migrate")
    check([s for _, s in app.rows("catalog_product", ["id", "sku"])] ==
          ["BLUE-MUG", "BLUE-MUG-%s" % skus[1][0], "TENT", "UNICODE-TENT"],
          "forwards again: the same skus")
    p = app.probe("base")
    check(p["get"] == 200 and p["post"] == 201 and p["fields"] == ["id", "name", "sku", "price", "category", "created"],
          "GET/POST /api/products: %s" % p)


def run_case(app, case):
    exp = EXPECT[case]
    print("case %s" % open(os.path.join(HERE, case, "README")).read().strip())
    before = app.state()
    categories = app.rows("catalog_category", ["id", "name"])
    app.copy_in(case)
    rc, out = app.manage("makemigrations", "--check", "--dry-run")
    check(rc == 0 and "No changes detected" in out, "makemigrations --check --dry-run: no changes")
    rc, out = app.manage("migrate", "--plan")
    print("    " + "\n    ".join(l for l in out.strip().splitlines()))
    if case == "failing":
        rc, out = app.manage("migrate", expect=1)
        errors = [l.strip() for l in out.splitlines() if "Error" in l] or [out.strip()[-200:]]
        last = errors[-1]
        check(rc != 0, "migrate fails: %s" % last)
        st = app.state()
        check(st == before, "nothing left behind (no 0006 row, no catalog_failing_marker, same columns)")
        app.restore()
        return
    app.manage("migrate")
    st = app.state()
    check(st["applied"][-1].startswith("0006_"), "migrate applies %s" % st["applied"][-1])
    check(sorted(st["columns"]) == sorted(exp["columns"]), "columns: %s" % st["columns"])
    if case == "irreversible":
        names = [n for _, n in app.rows("catalog_category", ["id", "name"])]
        check(names == [n.upper() for _, n in categories], "category names uppercased: %s" % names)
    if case == "not_null_no_default":
        stock = app.rows("catalog_product", ["stock"])
        check(stock and all(s == ["0"] for s in stock), "existing rows got the one-off default 0")
        check(app.sql("INSERT INTO catalog_product (name, sku, price, category_id, created) "
                      "SELECT 'x', 'NO-STOCK', 1, id, CURRENT_TIMESTAMP FROM catalog_category ORDER BY id LIMIT 1")
              == "IntegrityError", "no database default: an INSERT without stock fails")
    new = app.probe("new " + case)
    check(new["get"] == 200 and new["post"] == 201, "new code: GET %(get)s, POST %(post)s" % new)
    print("    new code's fields: %s" % new["fields"])
    # The old release: same database, this app's own models and migrations.
    app.restore()
    old = app.probe("old " + case)
    check((old["get"], old["post"]) == exp["old"],
          "old code against the migrated database: GET %s, POST %s" % (old["get"], old["post"]))
    app.copy_in(case)
    if case == "irreversible":
        rc, out = app.manage("migrate", "catalog", "0005", expect=1)
        check("IrreversibleError" in out, "migrate catalog 0005 raises IrreversibleError")
        app.manage("migrate", "--fake", "catalog", "0005")
        check(app.state()["applied"][-1] == "0005_product_price_gte_0",
              "migrate --fake catalog 0005 unrecords it (names stay uppercase)")
    else:
        app.manage("migrate", "catalog", "0005")
        st = app.state()
        check(st["applied"][-1] == "0005_product_price_gte_0" and sorted(st["columns"]) == sorted(BASE_COLUMNS),
              "migrate catalog 0005 reverses it: columns %s" % st["columns"])
    app.restore()
    rc, out = app.manage("makemigrations", "--check", "--dry-run")
    check(rc == 0 and "No changes detected" in out, "restored app: no changes")
    p = app.probe("restored " + case)
    check(p["get"] == 200 and p["post"] == 201, "restored app: GET %(get)s, POST %(post)s" % p)


if __name__ == "__main__":
    sys.exit(main())
