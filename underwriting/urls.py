from django.urls import path

from underwriting import views

app_name = "underwriting"

urlpatterns = [
    path("", views.product_list, name="product_list"),
    path("<str:code>/", views.product_detail, name="product_detail"),
    path("<str:code>/premium/", views.product_premium, name="product_premium"),
]
