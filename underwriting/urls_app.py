"""The applicant's applications, under /app/applications/ (see portal/urls.py)."""

from django.urls import path

from underwriting import views_app

app_name = "applications"

urlpatterns = [
    path("", views_app.application_list, name="list"),
    path("start/<str:code>/", views_app.application_start, name="start"),
    path("<id:pk>/", views_app.application_detail, name="detail"),
    path("<id:pk>/continue/", views_app.application_resume, name="resume"),
    path("<id:pk>/step/<str:key>/", views_app.application_step, name="step"),
    path("<id:pk>/submit/", views_app.application_submit, name="submit"),
    path("<id:pk>/withdraw/", views_app.application_withdraw, name="withdraw"),
    path(
        "<id:pk>/questions/<id:question_pk>/answer/",
        views_app.question_answer,
        name="question_answer",
    ),
    # Kept for old links and bookmarks: redirects to the notice, accepts nothing.
    path("<id:pk>/quotes/<id:quote_pk>/accept/", views_app.quote_accept, name="quote_accept"),
    path("<id:pk>/quotes/<id:quote_pk>/notice/", views_app.quote_notice, name="quote_notice"),
    path("<id:pk>/quotes/<id:quote_pk>/pdf/", views_app.quote_pdf, name="quote_pdf"),
]
