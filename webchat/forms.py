from django import forms


class ContactForm(forms.Form):
    """A new contact, created from the chat in which the agent identified them."""

    name = forms.CharField(max_length=120)
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=40, required=False)
    organisation = forms.CharField(max_length=120, required=False)

    def __init__(self, *args, **kwargs) -> None:
        # Ids of their own: the form sits in the inbox page beside other fields.
        kwargs.setdefault("auto_id", "new-contact-%s")
        super().__init__(*args, **kwargs)
