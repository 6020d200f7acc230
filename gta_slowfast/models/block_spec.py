"""``GTA.BLOCK``: PySlowFast's own non-local block, or the terms of a
``DecoupledAttentionBlock``."""

from gta_slowfast.blocks.terms import parse_terms

STOCK_NONLOCAL = "NL"


def block_terms(text):
    """The term names ``GTA.BLOCK`` gives, or None for "NL" (PySlowFast's
    ``Nonlocal`` stays).

    Raises:
        ValueError: an invalid value, naming GTA.BLOCK (see ``parse_terms``).
    """
    if text.strip().upper() == STOCK_NONLOCAL:
        return None
    return parse_terms(text)
