"""One module per Pod Security Standards check, as upstream keeps one check_<id>.go each;
registry.py lists them."""
