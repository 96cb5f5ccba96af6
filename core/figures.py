"""Figures measured on the development machine that the pages quote, in one place.

README's table ("Measured on the development machine") gives the same numbers with the commands that measured
them (tests/test_lint.py keeps the two in step). Measured, not the portfolio's: what this code reaches here.
"""

CNN_TEST_ACCURACY = 0.9914  # `python -m core train cnn`: the portfolio's settings, full MNIST, seed 42 (twice)
CVAE_TEST_ELBO = -156.6  # `python -m core train cvae`: the portfolio's settings, full MNIST, 10 epochs (two runs)
