""""Is it a digit at all?" on the CNN page: the out-of-distribution check of :mod:`core.mnist.ood` for a drawing or
an upload, said in the verdict, with the input's score among MNIST test digits' scores."""

from __future__ import annotations

import streamlit as st

from core.mnist.ood import SCORE_NAMES, fit_for, score_one, stats_for_run
from core.plots import score_histogram_figure
from ui.session import Current, cached, store

KIND = "cnn"


def ood_stats(current: Current):
    """The current model's statistics: its run's (written when it was saved; fitted once for older runs) or, for a
    model with no run (an upload), fitted now on the MNIST its settings name. None if that fails."""
    def compute():
        with st.spinner("Fitting the digit check to this model (once)…"):
            try:
                if current.run_id:
                    return stats_for_run(store(), current.run_id, current.model)
                return fit_for(current.model, current.params)
            except Exception as err:  # no data, a damaged run: the page reads digits without the check
                st.caption(f"The \"is it a digit?\" check is unavailable for this model: {err}")
                return None

    return cached(KIND, "ood", current.key, compute)


def digit_check(model, stats, image) -> dict | None:
    """The check's numbers for one preprocessed 28x28 image (see :func:`core.mnist.ood.score_one`)."""
    if stats is None:
        return None
    return score_one(model, stats, image)


def show_score(stats, check: dict, key: str) -> None:
    """One line that says where the score falls, and (on demand) the histogram of test digits' scores."""
    st.caption(f"Digit-likeness score {check['score']:.2f}: higher than {check['percentile']:.1%} of MNIST test "
               f"digits; above {check['threshold']:.2f} (about 1.5% of real digits) it is not read as a digit.")
    if st.toggle("How is this decided?", key=f"{key}.ood_more"):
        st.plotly_chart(score_histogram_figure(stats.test_scores, check["score"], check["threshold"]),
                        key=f"{key}.ood_hist")
        st.markdown(
            "Softmax always names a digit, even for a cat. So the network is also asked how close the input's "
            "features are to the digits it learned from: with $\\mathbf h(x)$ a layer's activations and "
            "class-conditional Gaussians fitted on training digits (shared covariance $\\Sigma$), the Mahalanobis "
            "distance $M(x) = \\min_c (\\mathbf h - \\boldsymbol\\mu_c)^\\top \\Sigma^{-1} (\\mathbf h - "
            "\\boldsymbol\\mu_c)$, on the last hidden layer and on the second convolution's channel means, and the "
            "same distance on the pixels' statistics (how much of the frame is flat grey, how much holds ink, how "
            "tall and wide the ink is): a photo keeps its continuous tones, a pen stroke has grey only along its "
            "rim. Each is divided by its 98.5% quantile on test digits and the largest is the score.")
        parts = ", ".join(f"{name} {check[name]:.2f}" for name in SCORE_NAMES if name in check)
        st.caption(f"This input's three parts (1 = the 98.5% quantile of test digits): {parts}.")
