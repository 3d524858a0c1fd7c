from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("shelf", "0003_book_isbn_pages"),
    ]

    operations = [
        migrations.RenameField(model_name="book", old_name="author", new_name="writer"),
    ]
