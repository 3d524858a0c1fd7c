# A migration that always fails when applied, for hoist's failure tests.
#
# The first statement succeeds, the second fails (its table does not exist). The
# migration is atomic on both PostgreSQL and sqlite, so after the failure neither
# catalog_failing_marker nor a django_migrations row for 0006_failing exists: the
# database is exactly as 0005 left it.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0005_product_price_gte_0'),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE TABLE catalog_failing_marker (id integer)",
            reverse_sql="DROP TABLE catalog_failing_marker",
        ),
        migrations.RunSQL(
            "UPDATE catalog_no_such_table SET name = 'x'",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
