from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("shelf", "0002_seed"),
    ]

    operations = [
        # Safe: nullable, the live code never needs to write it.
        migrations.AddField(
            model_name="book",
            name="isbn",
            field=models.CharField(max_length=20, null=True),
        ),
        # Unsafe: NOT NULL with a one-off default, as makemigrations writes it.
        migrations.AddField(
            model_name="book",
            name="pages",
            field=models.IntegerField(default=0),
            preserve_default=False,
        ),
    ]
