from django import forms

from .models import Note


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ["text"]


class UploadForm(forms.Form):
    file = forms.FileField()
