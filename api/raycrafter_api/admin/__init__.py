"""``raycrafter-admin``: what an operator does by hand on the web host."""
