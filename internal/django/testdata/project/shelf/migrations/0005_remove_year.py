from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("shelf", "0004_rename_author"),
    ]

    operations = [
        migrations.RemoveField(model_name="book", name="year"),
    ]
