"""SPF: the record, its grammar and the lookup tree."""
