"""opkpi: QA and KPI analytics pipeline for contact centers."""
