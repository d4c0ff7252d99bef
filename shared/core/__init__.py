"""The pure sync core: mapping, fingerprints, merging and planning. No I/O, no clock, no Azure."""
