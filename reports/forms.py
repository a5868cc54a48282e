"""The staffing calculator's inputs, as the page's form and staffing.json's query string both send them."""

from django import forms

# Bounds that keep a request within what a planner asks and the search answers in milliseconds.
MAX_VOLUME = 1_000_000
MAX_SECONDS = 86_400


class StaffingForm(forms.Form):
    """PROTOCOL.md section 7's staffing.json parameters. Volume and handle time may be left out when a
    queue is given (the view fills them from its recent figures)."""

    queue = forms.CharField(required=False, label="Queue")
    interval_minutes = forms.IntegerField(label="Interval (minutes)", min_value=1, max_value=1440, initial=30)
    volume = forms.FloatField(
        required=False, label="Contacts per interval", min_value=0, max_value=MAX_VOLUME
    )
    aht_seconds = forms.FloatField(
        required=False, label="Average handle time (seconds)", min_value=0, max_value=MAX_SECONDS
    )
    target_seconds = forms.FloatField(
        label="Answer within (seconds)", min_value=0, max_value=MAX_SECONDS, initial=20
    )
    service_level_pct = forms.FloatField(
        label="Service level target (%)", min_value=0, max_value=100, initial=80
    )
    concurrency = forms.IntegerField(
        required=False, label="Chats an agent holds at once", min_value=1, max_value=50, initial=1
    )

    def clean_service_level_pct(self) -> float:
        value = self.cleaned_data["service_level_pct"]
        if not 0 < value < 100:
            raise forms.ValidationError("Give a percentage above 0 and below 100.")
        return value

    def clean_concurrency(self) -> int:
        return self.cleaned_data.get("concurrency") or 1

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("queue") and ("volume" in data and "aht_seconds" in data):
            for name in ("volume", "aht_seconds"):
                if data[name] is None:
                    self.add_error(name, "Required unless a queue is chosen.")
        volume, aht = data.get("volume"), data.get("aht_seconds")
        if volume and aht == 0:
            self.add_error("aht_seconds", "Contacts need a handle time longer than 0 seconds.")
        return data

    def first_error(self) -> str:
        """One sentence naming the first field refused and why, for a JSON error."""
        field, errors = next(iter(self.errors.items()))
        return f"{field}: {errors[0]}" if field != "__all__" else errors[0]
