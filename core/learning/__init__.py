"""Learning the watched log: the recipe, the window, the child process, the first learning,
learning again, and the models remembered between runs."""
