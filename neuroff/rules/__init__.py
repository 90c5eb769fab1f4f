"""Local learning rules. A rule turns a batch of positive/negative samples into weight updates
of a model; it never owns the epoch loop (that is ``neuroff.engine``)."""
