"""Reports that arrive by themselves (issue 13 §5): managers subscribe to a report for a facility they may see;
a periodic job sends it by e-mail (XLSX, PDF or an HTML summary) once per subscription and period."""
