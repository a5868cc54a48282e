"""The widget's iframe page and the demo web page."""

from django.urls import path

from webchat import widget_views

urlpatterns = [
    path("webchat/w/<str:queue_token>/", widget_views.widget, name="webchat-widget"),
    path("demo/", widget_views.demo, name="webchat-demo"),
]
