"""One page of a listing, and the numbers a client needs to ask for the next one."""


def page(query, order_by, limit, offset, key, shown):
    """``{key: shown(rows), "total", "limit", "offset", "next_offset"}`` for the ``limit``
    rows of ``query`` from ``offset`` on, in ``order_by`` order. ``shown`` turns the page's
    rows into their views at once, so a view may load what it needs in one query."""
    total = query.count()
    rows = list(query.order_by(order_by).limit(limit).offset(offset))
    return {key: shown(rows), "total": total, "limit": limit, "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None}
