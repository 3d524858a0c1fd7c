import django
from django.db import models

# CheckConstraint's condition was called `check` before Django 5.1 (`check` is
# deprecated in 5.1 and gone in 6.0). Same constraint, same migration, either name.
CHECK = "condition" if django.VERSION >= (5, 1) else "check"


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class Product(models.Model):
    name = models.CharField(max_length=200)
    # Added nullable in 0002, filled from the name in 0003, NOT NULL and unique in 0004.
    sku = models.CharField("SKU", max_length=64, unique=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="products"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # 0005: added over existing rows.
            models.CheckConstraint(
                name="catalog_product_price_gte_0", **{CHECK: models.Q(price__gte=0)}
            ),
        ]

    def __str__(self):
        return self.name
