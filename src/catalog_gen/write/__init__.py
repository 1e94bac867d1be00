"""Stage 5, write: the outputs replaced all or none (ownership proof, lock, journaled swap)."""
