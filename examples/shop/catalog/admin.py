from django.contrib import admin

from .models import Category, Product

# Plain registrations (no list_display): they keep working whichever
# next_migrations/<case>/models.py is copied in.
admin.site.register(Category)
admin.site.register(Product)
