from django.urls import path

from portal import token_views, views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("firms/new/", views.firm_register, name="firm_register"),
    path("firms/switch/", views.firm_switch, name="firm_switch"),
    path("firm/", views.firm_detail, name="firm_detail"),
    path("firm/edit/", views.firm_edit, name="firm_edit"),
    path("firm/invite/", views.firm_invite, name="firm_invite"),
    path("firm/invitations/<id:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("firm/members/<id:pk>/remove/", views.member_remove, name="member_remove"),
    path("firm/tokens/", token_views.firm_tokens, name="tokens"),
    path("firm/tokens/<str:token_key>/revoke/", token_views.firm_token_revoke, name="token_revoke"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("assets/", views.asset_list, name="asset_list"),
    path("assets/new/<str:kind>/", views.asset_create, name="asset_create"),
    path("assets/<id:pk>/", views.asset_detail, name="asset_detail"),
    path("assets/<id:pk>/edit/", views.asset_edit, name="asset_edit"),
    path("assets/<id:pk>/delete/", views.asset_delete, name="asset_delete"),
    path("notifications/", views.notifications, name="notifications"),
]
