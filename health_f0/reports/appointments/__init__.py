"""The appointment report: bookings, visits, no-shows, re-exams and SMS per clinic service per day."""
