"""CSV/XLSX import (validated, all-or-nothing, upsert by ``external_id``) and streaming CSV export."""
