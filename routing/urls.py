from django.urls import path

from routing import views

urlpatterns = [
    path("events", views.telephony_event, name="telephony-events"),
]
