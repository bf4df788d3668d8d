"""Dataset cards as documents: their structure (sections, tables, lists, roles) and the real-card evaluation set."""
