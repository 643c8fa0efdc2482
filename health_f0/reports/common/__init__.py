"""What the three report families (home care, appointments, HIS links) share: the query, the scope and the
roll-up (`rollup`), the XLSX cells and the audited export (`export`), the chart frame (`charts`) and the page
and download views (`views`)."""
