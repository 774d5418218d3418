"""After training: batch scoring, the SQL warehouse and drift monitoring."""
