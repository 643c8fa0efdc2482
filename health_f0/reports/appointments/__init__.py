"""The appointment report: bookings, visits, no-shows, re-exams and SMS per clinic service per day; and its
view per clinical department (accounts, HIS links, channels, waits, reminder cost: departments.py)."""
