"""Files under the data directory: uploads received and placed, and the scene rule
applied to an uploaded archive."""
