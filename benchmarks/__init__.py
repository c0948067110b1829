"""nirom's performance suite: figures measured as ratios side by side in one run."""
