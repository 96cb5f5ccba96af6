"""Home page: what a neuron computes, the activation functions, forward pass, backpropagation and Adam."""

import streamlit as st

from core.cvae.task import SPACE as CVAE_SPACE
from core.iris.task import SPACE as IRIS_SPACE
from core.plots import ACTIVATIONS, activation_figure
from ui.navigation import CVAE, IRIS, MNIST_CNN, PLAYGROUND, RUNS, TABLE, TITLE_AND_ICON

st.set_page_config(page_title="Neural-network playground")

st.title("🧠 Neural-network playground")
st.markdown("Train real neural networks in your browser, watch them learn live, then poke at what they learned.")
st.page_link(IRIS, label="**Start here:** train the Iris classifier (a few seconds) →", icon=TITLE_AND_ICON[IRIS][1])

WHAT = {  # what each page offers; its script, title and icon come from ui/navigation.py
    IRIS: "a 4 → 10 → 10 → 3 classifier on 150 flowers: decision regions, every neuron drawn, train it one step at "
          "a time",
    PLAYGROUND: "TensorFlow Playground's lesson on real Keras: watch a boundary bend around a spiral, or draw your own "
                "points",
    TABLE: "the same kind of network on your own CSV table, beside two simpler models: does it earn its keep?",
    MNIST_CNN: "four convolution blocks on 70,000 handwritten digits: draw a digit and see what it reads, and why",
    CVAE: "a variational auto-encoder with a 2-D latent space: drag a point and watch digits morph",
    RUNS: "every training you ran: compare curves and settings, re-run, export, sweep",
}
for column, (script, what) in zip(st.columns(len(WHAT)), WHAT.items()):
    title, icon = TITLE_AND_ICON[script]
    column.page_link(script, label=f"**{title}**", icon=icon)
    column.caption(what)
st.caption("Training runs in the background on the server: the curves grow live, and you can keep using the app "
           "(even another page, or after a reload) while it runs.")

st.divider()
st.subheader("The basics every page builds on")
with st.expander("1 · A neuron", expanded=True):
    left, right = st.columns([3, 2])
    with left:
        st.markdown(
            "A neuron weighs its inputs, adds a bias and passes the sum through an **activation function** $\\varphi$:"
        )
        st.latex(r"y = \varphi(\mathbf{w}^\top \mathbf{x} + b) = \varphi\Big(\sum_i w_i x_i + b\Big)")
        st.markdown(
            "A **layer** is many neurons reading the same inputs, $\\mathbf{h} = \\varphi(W\\mathbf{x} + \\mathbf{b})$; "
            "a network stacks layers. Without the non-linear $\\varphi$ a stack of layers would collapse into a single "
            "linear map, so it could only draw straight decision boundaries."
        )
    with right:
        st.markdown("**Try it:** one neuron with two inputs.")
        x1 = st.slider("input x₁", -2.0, 2.0, 1.0, 0.1, key="home.x1")
        x2 = st.slider("input x₂", -2.0, 2.0, -0.5, 0.1, key="home.x2")
        w1 = st.slider("weight w₁", -3.0, 3.0, 1.5, 0.1, key="home.w1")
        w2 = st.slider("weight w₂", -3.0, 3.0, 2.0, 0.1, key="home.w2")
        b = st.slider("bias b", -3.0, 3.0, 0.0, 0.1, key="home.b")
        z = w1 * x1 + w2 * x2 + b
        st.markdown(f"$z = {w1:g}\\cdot{x1:g} + {w2:g}\\cdot({x2:g}) + {b:g} = {z:.2f}$, "
                    f"$\\;\\mathrm{{ReLU}}(z) = {max(z, 0):.2f}$, $\\;\\sigma(z) = {1 / (1 + 2.718281828 ** -z):.3f}$")

with st.expander("2 · Activation functions", expanded=False):
    name = st.segmented_control("Activation", list(ACTIVATIONS), default="ReLU", key="home.activation")
    name = name or "ReLU"
    formula, _ = ACTIVATIONS[name]
    st.latex(formula)
    notes = {
        "sigmoid": "Squashes any number into (0, 1), read as a probability. Its slope vanishes for large |x|, "
                   "which slows learning in deep stacks (vanishing gradients).",
        "tanh": "Like the sigmoid but centred on 0, with range (−1, 1); it saturates the same way.",
        "ReLU": "Zero for negative inputs, identity for positive ones. Cheap, and its gradient is 1 wherever the "
                "neuron is active, which is why the hidden layers of all three models use it.",
        "softmax": "Turns a vector of scores (logits) into probabilities that sum to 1; the output layer of the "
                   "classifiers uses it, one probability per class.",
    }
    st.markdown(notes[name])
    if name == "softmax":
        cols = st.columns(3)
        logits = [cols[i].slider(f"logit z{i + 1}", -5.0, 5.0, v, 0.1, key=f"home.z{i}")
                  for i, v in enumerate((2.0, 1.0, 0.1))]
        st.plotly_chart(activation_figure(name, logits=logits), key="home.act")
    else:
        st.plotly_chart(activation_figure(name), key="home.act")

with st.expander("3 · Forward pass", expanded=False):
    st.markdown(
        "The network computes layer after layer. For the Iris classifier with two hidden layers:"
    )
    st.latex(r"\mathbf{h}_1 = \mathrm{ReLU}(W_1\mathbf{x} + \mathbf{b}_1),\quad "
             r"\mathbf{h}_2 = \mathrm{ReLU}(W_2\mathbf{h}_1 + \mathbf{b}_2),\quad "
             r"\hat{\mathbf{p}} = \mathrm{softmax}(W_3\mathbf{h}_2 + \mathbf{b}_3)")
    st.markdown(
        "and measures how wrong it is with the **cross-entropy** of the true class $y$: "
        "$L = -\\log \\hat p_y$ (0 when the network is certain and right, large when it is confident and wrong)."
    )

with st.expander("4 · Backpropagation", expanded=False):
    st.markdown(
        "Training lowers the loss by nudging every weight against its gradient. The chain rule gives all the "
        "gradients in one backward sweep, from the output to the input:"
    )
    st.latex(r"\frac{\partial L}{\partial W_\ell} = \boldsymbol{\delta}_\ell\, \mathbf{h}_{\ell-1}^\top,\qquad "
             r"\boldsymbol{\delta}_\ell = \big(W_{\ell+1}^\top \boldsymbol{\delta}_{\ell+1}\big)\odot"
             r"\varphi'(\mathbf{z}_\ell),\qquad \boldsymbol{\delta}_{\text{out}} = \hat{\mathbf{p}} - \mathbf{e}_y")
    st.markdown(
        "Each layer's error signal $\\boldsymbol\\delta_\\ell$ is the next layer's error sent back through its weights "
        "and gated by the slope of the activation: this is why a ReLU (slope 1) passes gradients well and a "
        "saturated sigmoid (slope ≈ 0) does not. Gradients are averaged over a **mini-batch** of examples."
    )

with st.expander("5 · The Adam update", expanded=False):
    st.markdown("All models here learn with Adam, which keeps running averages of each weight's gradient "
                "$g_t$ and of its square, and takes a step scaled by their ratio:")
    st.latex(r"m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad "
             r"\hat m_t = \frac{m_t}{1-\beta_1^t},\quad \hat v_t = \frac{v_t}{1-\beta_2^t},\quad "
             r"w_t = w_{t-1} - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}")
    st.markdown(
        "with $\\beta_1 = 0.9$, $\\beta_2 = 0.999$ and the **learning rate** $\\eta$ "
        f"({IRIS_SPACE['learning_rate'].default:g} for the classifiers, {CVAE_SPACE['learning_rate'].default:g} "
        "for the VAE). Too large an $\\eta$ and the loss jumps around or diverges to NaN (the pages tell you "
        "and keep the last good weights); too small and learning crawls. Try both on the Iris page."
    )
