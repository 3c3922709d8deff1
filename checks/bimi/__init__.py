"""BIMI (Brand Indicators for Message Identification): the record, the logo, the mark certificate."""
