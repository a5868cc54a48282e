from django.urls import path

from reports import pages, views

urlpatterns = [
    path("", pages.report, name="reports"),
    path("interactions/", pages.interactions, name="reports_interactions"),
    path("staffing.json", views.staffing_json, name="reports_staffing_json"),
    path("interactions.csv", views.interactions_csv, name="reports_interactions_csv"),
    path("queues.csv", views.queues_csv, name="reports_queues_csv"),
    path("agents.csv", views.agents_csv, name="reports_agents_csv"),
    path("staffing/", views.staffing, name="reports_staffing"),
]
