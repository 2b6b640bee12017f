"""The adapter kit: what an integration engineer uses to add, try and check an institution."""
