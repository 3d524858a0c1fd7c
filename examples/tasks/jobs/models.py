from django.db import models


class Job(models.Model):
    token = models.CharField(max_length=100, unique=True)
    enqueued_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)
    # The VERSION of the release whose worker ran the task.
    done_by_version = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.token
