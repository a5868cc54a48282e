from django.urls import path

from reports import pages, views

urlpatterns = [
    path("", pages.report, name="reports"),
    path("interactions/", pages.interactions, name="reports_interactions"),
    path("staffing.json", views.staffing_json, name="reports_staffing_json"),
    path("staffing/", views.staffing, name="reports_staffing"),
]
