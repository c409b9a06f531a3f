from django.shortcuts import render

from catalog.selectors import catalog_counts
from kg.selectors import graph_overview


def home(request):
    overview = graph_overview()
    context = {
        "catalog": catalog_counts(),
        "overview": overview,
        "entities_by_type": sorted(
            (overview.stats.entities_by_type if overview.stats else {}).items(), key=lambda kv: (-kv[1], kv[0])
        ),
        "relations_by_type": sorted(
            (overview.stats.relations_by_type if overview.stats else {}).items(), key=lambda kv: (-kv[1], kv[0])
        ),
    }
    return render(request, "home.html", context)
