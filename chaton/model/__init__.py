"""The data model of a collective and its member structures: pydantic v2, frozen, no I/O.

The schema is documented, field by field, in `docs/schema.md` (French: `docs/schema.fr.md`).
"""

from chaton.model.collective import (
    Collective,
    Footprint,
    HostingAssociation,
    MailingListsOffer,
    MastodonDedicatedOffer,
    MastodonSharedOffer,
    NextcloudOffer,
    Offers,
    People,
    RecurringCost,
    Resources,
    Server,
    ServerCosts,
    Tier,
    WebsiteOffer,
)
from chaton.model.structure import (
    Contact,
    MailingList,
    MastodonService,
    NextcloudAccount,
    NextcloudService,
    Services,
    Structure,
    WebsiteService,
)
from chaton.model.types import domain_to_ascii

__all__ = [
    "Collective",
    "Contact",
    "Footprint",
    "HostingAssociation",
    "MailingList",
    "MailingListsOffer",
    "MastodonDedicatedOffer",
    "MastodonService",
    "MastodonSharedOffer",
    "NextcloudAccount",
    "NextcloudOffer",
    "NextcloudService",
    "Offers",
    "People",
    "RecurringCost",
    "Resources",
    "Server",
    "ServerCosts",
    "Services",
    "Structure",
    "Tier",
    "WebsiteOffer",
    "WebsiteService",
    "domain_to_ascii",
]
