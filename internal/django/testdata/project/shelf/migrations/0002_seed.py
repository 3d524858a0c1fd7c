# A data migration without a reverse: no rollback can go back past it.
from django.db import migrations


def seed(apps, schema_editor):
    Book = apps.get_model("shelf", "Book")
    Book.objects.using(schema_editor.connection.alias).create(title="Dune", author="Herbert", year=1965)


class Migration(migrations.Migration):

    dependencies = [
        ("shelf", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed),
    ]
