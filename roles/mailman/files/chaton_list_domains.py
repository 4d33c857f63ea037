"""A Django middleware of mailman3-web (written by the mailman role of chaton-toolkit): HyperKitty's
pages that span lists answer, on a list domain's vhost, for that domain's lists only.

nginx names the vhost's list domain in X-Chaton-List-Domain (its own parameter: a client's header
of that name is not passed). On that vhost:
- a search (/hyperkitty/search) and a sender's posts (/hyperkitty/users/<id>/posts) are answered
  only for one list of the domain (their `mlist`, `list` parameter); across lists, or for another
  domain's list, they are not found;
- the list finder (/hyperkitty/find-list, the index's autocompletion) names the domain's lists only.
Without the header (a request that did not come through a vhost) those pages are not found.
HyperKitty's API across lists (lists, tags, a sender's mails) is refused by nginx itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound

HEADER = "HTTP_X_CHATON_LIST_DOMAIN"
# The pages answered for one list only, and the parameter that names it.
ONE_LIST = [
    (re.compile(r"^/hyperkitty/search$"), "mlist"),
    (re.compile(r"^/hyperkitty/users/[^/]+/posts$"), "list"),
]
FIND_LIST = "/hyperkitty/find-list"


def domain_of(address: object) -> str:
    return str(address).rpartition("@")[2].lower()


class OwnListDomainOnly:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        domain = str(request.META.get(HEADER, "")).lower()
        for pattern, parameter in ONE_LIST:
            if pattern.match(path):
                named = request.GET.getlist(parameter)
                if not domain or len(named) != 1 or domain_of(named[0]) != domain:
                    return HttpResponseNotFound("No list of this domain by that name.")
        if path == FIND_LIST and not domain:
            return HttpResponseNotFound("No list of this domain.")
        response = self.get_response(request)
        if path == FIND_LIST and response.status_code == 200:
            found = json.loads(response.content)
            kept = [
                item
                for item in found
                if isinstance(item, dict) and domain_of(item.get("value", "")) == domain
            ]
            response.content = json.dumps(kept).encode()
        return response
