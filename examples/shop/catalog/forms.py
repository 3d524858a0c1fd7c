from django import forms

from .models import Product


class ProductForm(forms.ModelForm):
    """Every editable field of Product as currently defined, so the API follows the
    schema of whichever next_migrations/<case>/models.py is copied in (a new NOT NULL
    field becomes a required form field, a renamed one takes its new name)."""

    # The category's name, not its id: created if missing.
    category = forms.CharField(max_length=100)

    class Meta:
        model = Product
        exclude = ["category"]

    def clean_price(self):
        price = self.cleaned_data["price"]
        # The database has the same rule (CheckConstraint in 0005); checking it here
        # too gives a 400 on Django 3.2, which does not validate constraints in forms.
        if price is not None and price < 0:
            raise forms.ValidationError("Price must not be negative.")
        return price
