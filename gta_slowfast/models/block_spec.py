"""Parsing of ``GTA.BLOCK``: which attention components a block has."""

from dataclasses import dataclass

COMPONENTS = ("SA", "TA", "TAPE", "PIXEL_GTA", "REGION_GTA")
ALIASES = {"DNL": "SA+TA", "GTA": "SA+PIXEL_GTA+REGION_GTA"}
STOCK_NONLOCAL = "NL"


@dataclass(frozen=True)
class BlockSpec:
    """The components of one decoupled attention block (paper Table 3)."""

    spatial: bool = False
    temporal_attention: bool = False
    positional_encoding: bool = False
    pixel_gta: bool = False
    region_gta: bool = False

    @classmethod
    def parse(cls, text):
        """Parses a ``GTA.BLOCK`` value other than ``"NL"``.

        Args:
            text (str): e.g. ``"GTA"``, ``"DNL"`` or ``"SA+TAPE"``.
        Returns:
            BlockSpec
        Raises:
            ValueError: naming ``GTA.BLOCK`` and the allowed values.
        """
        names = ALIASES.get(text.upper(), text.upper())
        parts = [part.strip() for part in names.split("+")]
        unknown = [part for part in parts if part not in COMPONENTS]
        if unknown or len(set(parts)) != len(parts):
            raise ValueError(
                "GTA.BLOCK '{}' is not valid: give '{}', one of {} or "
                "components from {} joined by '+', each at most once.".format(
                    text, STOCK_NONLOCAL, sorted(ALIASES), list(COMPONENTS)
                )
            )
        if "TA" in parts and "TAPE" in parts:
            raise ValueError(
                "GTA.BLOCK '{}': TA and TAPE are alternatives, use one of "
                "them.".format(text)
            )
        return cls(
            spatial="SA" in parts,
            temporal_attention="TA" in parts or "TAPE" in parts,
            positional_encoding="TAPE" in parts,
            pixel_gta="PIXEL_GTA" in parts,
            region_gta="REGION_GTA" in parts,
        )

    @property
    def has_global_temporal_attention(self):
        """True where the block holds T x T matrices tied to one clip length."""
        return self.pixel_gta or self.region_gta
