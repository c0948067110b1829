"""Physics-informed clustering of training data into local reduced bases (ROM-net)."""
