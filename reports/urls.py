from django.urls import path

from reports import views

urlpatterns = [
    path("staffing.json", views.staffing_json, name="reports_staffing_json"),
    path("staffing/", views.staffing, name="reports_staffing"),
]
