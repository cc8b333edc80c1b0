"""The seven kinds of pages we read, as a page declares its own: article, forum, product, collection,
listing, documentation, service (wcxb-dev's page types).

    kind_of(nodes, og_type) -> str | None    from JSON-LD @types, else og:type; never a guess

fetch/metadata.py reports it as -f json's page_type; fetch/route.py routes on it.
"""

from __future__ import annotations

from typing import Any

from gptme_trio.fetch import jsonld

# The page's declared type -> its kind. JSON-LD types are matched lower-case, without a schema.org prefix.
_KINDS: dict[str, str] = {
    **dict.fromkeys(("product", "productgroup", "productmodel", "individualproduct", "vehicle", "car"), "product"),
    **dict.fromkeys(("discussionforumposting", "qapage", "question", "socialmediaposting"), "forum"),
    **dict.fromkeys(("techarticle", "apireference", "softwaresourcecode"), "documentation"),
    **dict.fromkeys(
        (
            "article",
            "newsarticle",
            "blogposting",
            "report",
            "scholarlyarticle",
            "reportagenewsarticle",
            "analysisnewsarticle",
            "opinionnewsarticle",
            "reviewnewsarticle",
            "backgroundnewsarticle",
            "liveblogposting",
            "review",
            "recipe",
            "howto",
        ),
        "article",
    ),
    **dict.fromkeys(("searchresultspage", "itemlist", "blog"), "listing"),
    **dict.fromkeys(("collectionpage", "offercatalog"), "collection"),
    **dict.fromkeys(("service", "professionalservice", "financialservice", "softwareapplication"), "service"),
}
_OG_KINDS = {"article": "article", "blog": "article", "product": "product", "product.item": "product"}
_PRIORITY = ("product", "forum", "documentation", "article", "listing", "collection", "service")


def kind_of(nodes: list[dict[str, Any]], og_type: str | None) -> str | None:
    """The kind of page that a page's JSON-LD nodes (their @types) declare, else its og:type; None
    for no kind we know. When the nodes name several, _PRIORITY decides (a product page's Review
    nodes do not make it an article)."""
    kinds = {_KINDS[t] for node in nodes for t in jsonld.types(node) if t in _KINDS}
    if not kinds and og_type:
        kinds = {_OG_KINDS[k]} if (k := og_type.strip().lower()) in _OG_KINDS else set()
    return next((k for k in _PRIORITY if k in kinds), None)


def names_a_kind(node: dict[str, Any]) -> bool:
    """Whether a JSON-LD node's @type is one of a kind of page (the page's own node, not its breadcrumb)."""
    return any(t in _KINDS for t in jsonld.types(node))
