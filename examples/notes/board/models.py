from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=500)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return self.text

    def as_dict(self):
        return {"id": self.id, "text": self.text, "created": self.created.isoformat()}
