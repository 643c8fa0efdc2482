"""The HIS linking report: linked share of visiting patients, link requests and import runs."""
