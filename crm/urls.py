from django.urls import path

from crm import views

urlpatterns = [
    path("", views.contacts, name="contacts"),
    path("<int:contact_id>/", views.contact, name="contact"),
    path("interactions/<int:interaction_id>/transcript/", views.transcript, name="interaction_transcript"),
]
