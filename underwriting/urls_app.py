"""The applicant's applications, under /app/applications/ (see portal/urls.py)."""

from django.urls import path

from underwriting import views_app

app_name = "applications"

urlpatterns = [
    path("", views_app.application_list, name="list"),
    path("start/<str:code>/", views_app.application_start, name="start"),
    path("<int:pk>/", views_app.application_detail, name="detail"),
    path("<int:pk>/continue/", views_app.application_resume, name="resume"),
    path("<int:pk>/step/<str:key>/", views_app.application_step, name="step"),
    path("<int:pk>/submit/", views_app.application_submit, name="submit"),
    path("<int:pk>/withdraw/", views_app.application_withdraw, name="withdraw"),
    path(
        "<int:pk>/questions/<int:question_pk>/answer/",
        views_app.question_answer,
        name="question_answer",
    ),
    # Kept for old links and bookmarks: redirects to the notice, accepts nothing.
    path("<int:pk>/quotes/<int:quote_pk>/accept/", views_app.quote_accept, name="quote_accept"),
    path("<int:pk>/quotes/<int:quote_pk>/notice/", views_app.quote_notice, name="quote_notice"),
    path("<int:pk>/quotes/<int:quote_pk>/pdf/", views_app.quote_pdf, name="quote_pdf"),
]
