"""The review web app where people approve, reject or edit low-confidence lineage edges."""
