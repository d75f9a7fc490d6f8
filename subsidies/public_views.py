"""The public publication list (公示) of subsidies about to be paid, under /public/subsidies/: no
login. It shows what the law asks to publish (the firm's name, the programme and its authority,
the amount and the publication period) and nothing else about the firm."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from subsidies import selectors

PAGE_SIZE = 50


@require_GET
def publication(request):
    today = timezone.localdate()
    authorities = list(selectors.publication_authorities())
    wanted = request.GET.get("authority", "")
    selected = next((a for a in authorities if str(a.pk) == wanted), None)
    page = Paginator(
        selectors.publicised(today, selected.pk if selected else None), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "subsidies/publication.html",
        {"page": page, "authorities": authorities, "selected": selected, "today": today},
    )
