"""DANE: TLSA records and whether the presented certificates match them."""
