"""Exit codes of every command (README, docs/nattkorning.md), defined once.

0 all clean; 1 failed (nothing changed; for report also: not one export could be read,
nothing published); 2 wrong usage; 3 completed but some rows or files were rejected (ingest
and nightly), or a report was written marked as without data for its period.
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REJECTIONS = 3
EXIT_NO_DATA = 3  # report: written, but marked as without data for the period
