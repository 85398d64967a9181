"""Jobs: what one CLI command does end to end (ingest → build → publish), above every layer."""
