from django.db import models


# The state after 0005; releases of the tests hold fewer migrations.
class Book(models.Model):
    title = models.CharField(max_length=200)
    writer = models.CharField(max_length=200)
    isbn = models.CharField(max_length=20, null=True)
    pages = models.IntegerField()
