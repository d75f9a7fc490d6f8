from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import path


def officer_required(view):
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.is_officer:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    return wrapped


@officer_required
def home(request):
    membership = request.user.officer_membership
    return render(
        request,
        "officer/home.html",
        {"authority": membership.authority, "officer_membership": membership},
    )


app_name = "officer"
# The subsidy pages join these in the same "officer" namespace in portal/urls.py, so the shared
# kernel never imports the subsidies app.
urlpatterns = [path("", home, name="home")]
