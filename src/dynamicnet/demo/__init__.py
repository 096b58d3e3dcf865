"""The interactive web demo (``dynamicnet demo``): a static page over the application pipelines."""
