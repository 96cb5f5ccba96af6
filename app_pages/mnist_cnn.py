"""MNIST CNN: learn convolution, train the portfolio's network (with or without inverted copies),
then draw or upload digits and see what it predicts, why, and how the augmentation changes that."""

import numpy as np
import streamlit as st

from core.figures import CNN_TEST_ACCURACY
from core.mnist.probes import make_probes
from core.mnist.task import PRESETS, SPACE, evaluate_digits
from ui.cnn_correct import correct_it, personal_section
from ui.cnn_fool import fool_the_cnn
from ui.controls import apply_params, param_controls
from ui.digit_check import ood_stats, show_score
from ui.digits import canvas_digit, mnist_or_stop, uploaded_digits
from ui.model_panel import model_panel, require_model
from ui.session import cached, ensure_tf, get_current, load_run_model, saved_runs
from ui.sweep_panel import sweep_panel
from ui.training_panel import training_panel
from ui.verdict import drawing_verdict, read_digit, show_verdict

KIND = "cnn"
PREVIEW = 5  # 28 px shown as 140 px
DEFAULTS = SPACE.defaults()  # the portfolio's network

st.set_page_config(page_title="MNIST CNN · NN playground")
st.title("🔢 MNIST: a convolutional network that reads handwriting")
st.markdown("A network that learned to read handwritten digits from 60,000 examples. **Start here:** pick the "
            "**Quick** preset in the sidebar, press **Apply preset**, then **Train**; then draw a digit below.")
with st.expander("The maths and the portfolio's network"):
    k, filters = DEFAULTS["kernel_size"], [DEFAULTS[f"conv{i}_filters"] for i in range(1, 5)]
    st.markdown(
        "A convolution slides a small kernel $K$ over the image, $(I * K)[i,j] = \\sum_{u,v} I[i+u, j+v]\\,K[u,v]$, "
        "so each filter detects one local pattern wherever it appears. The portfolio's network stacks four "
        f"Conv2D({k}×{k}, ReLU) layers of {', '.join(map(str, filters[:-1]))} and {filters[-1]} filters, each "
        "followed by 2×2 max-pooling (28 → 14 → 7 → 3 → 1 pixels), then "
        f"Dense({DEFAULTS['dense_units']}), Dropout({DEFAULTS['dropout']}) and a softmax over the ten digits. "
        f"Trained here with these settings it reaches {CNN_TEST_ACCURACY:.2%} test accuracy. MNIST digits are white "
        "on black; the **inversion augmentation** adds a black-on-white copy $1 - x$ of every image, which is what "
        "lets the network read dark ink on paper."
    )

st.sidebar.header("Hyper-parameters")
preset = st.sidebar.selectbox("Preset", list(PRESETS), key="cnn.preset")
st.sidebar.button("Apply preset", on_click=lambda: apply_params(KIND, PRESETS[st.session_state["cnn.preset"]]),
                  key="cnn.apply_preset")
params = param_controls(SPACE, KIND)

ensure_tf()
from core.mnist.cnn import (
    EDGE_KERNELS,
    convolve,
    feature_maps,
    first_layer_kernels,
    predict_digits,
    saliency,
)
from core.plots import (
    confusion_figure,
    image_grid,
    normalize01,
    overlay,
    png_data_uri,
    upscale,
)

data = mnist_or_stop(KIND, params)
used = min(params["train_size"], len(data.x_train))
st.info(f"**Data:** {data.description}. Training uses {used:,} of the training images"
        + (" and their inverted copies." if params["augment_invert"] else "."), icon="🗂️")
for notice in data.notices:
    st.caption(notice)

with st.expander("Convolution by hand: edge kernels on a digit", expanded=get_current(KIND) is None):
    st.markdown("The portfolio applied a vertical and a horizontal edge kernel to a digit. Edit the kernel: "
                "positive weights on one side and negative on the other respond to a change of brightness.")
    left, mid, right = st.columns([2, 2, 3])
    index = left.number_input("Test digit", 0, len(data.x_test) - 1, 0, key="cnn.lesson_index")
    digit = data.x_test[index].astype("float32") / 255.0
    kernel_name = mid.selectbox("Start from", list(EDGE_KERNELS), key="cnn.lesson_kernel")
    kernel = mid.data_editor(EDGE_KERNELS[kernel_name], key=f"cnn.kernel.{kernel_name}", width="stretch")
    kernel = np.nan_to_num(np.asarray(kernel, dtype="float32"))
    response = convolve(digit, kernel)
    with right:
        cols = st.columns(3)
        cols[0].image(upscale(digit, 4), caption=f"digit (label {data.y_test[index]})", clamp=True)
        cols[1].image(upscale(normalize01(np.maximum(response, 0)), 4), caption="I * K, positive part", clamp=True)
        cols[2].image(upscale(normalize01(np.maximum(-response, 0)), 4), caption="I * K, negative part", clamp=True)

training_panel(KIND, params)
sweep_panel(KIND, params)
current = require_model(KIND, "Train a model (apply the **Quick** preset first: the progress line then says how "
                               "long it needs) or load a saved one below to read digits.")


def _evaluate(model):
    return evaluate_digits(model, data.x_test, data.y_test)


# A run trained or stored on the same data already carries its evaluation; anything else is evaluated here.
same_data = current.metrics.get("mistakes") is not None and all(
    current.params.get(name) == params[name] for name in ("data_source", "data_path"))
evaluation = current.metrics if same_data else cached(KIND, "evaluation", current.key, lambda: _evaluate(current.model))

st.header("How well it reads MNIST")
st.caption(f"Model: {current.label} ({current.status}); inversion augmentation "
           f"{'on' if current.params.get('augment_invert') else 'off'}")
c1, c2, c3 = st.columns(3)
c1.metric("Test accuracy (white on black)", f"{evaluation['test_accuracy']:.2%}")
c2.metric("Inverted test set (black on white)", f"{evaluation['inverted_test_accuracy']:.2%}")
c3.metric("Both together", f"{evaluation['combined_test_accuracy']:.2%}")
left, right = st.columns([2, 3])
left.plotly_chart(confusion_figure(evaluation["confusion"], list(range(10))), key="cnn.confusion")
with right:
    st.subheader("Its most confident mistakes")
    mistakes = evaluation["mistakes"]
    if mistakes:
        st.image([upscale(data.x_test[m["index"]] / 255.0, 3) for m in mistakes],
                 caption=[f"true {m['label']}, read {m['predicted']} ({m['probability']:.0%})" for m in mistakes],
                 clamp=True)
    else:
        st.write("No mistakes on the test set.")


def _show_prediction(model, digit, show_details: bool, stats=None, invert: bool = True) -> None:
    drawing = digit.name == "drawing"
    if digit.error and not drawing:
        st.info(digit.error)
        return
    reading = None if digit.error else read_digit(model, stats, digit.image)
    a, b, c = st.columns([1, 1, 3])
    # Inline PNGs (redrawn on every stroke): no served file for the browser to fetch, or to miss.
    if digit.raw is not None and reading is not None:
        a.image(png_data_uri(digit.raw), caption=digit.name, width="stretch")  # never wider than its column
    if reading is not None:
        b.image(png_data_uri(upscale(digit.image, PREVIEW)), caption="what the network sees (28×28)" +
                (", inverted" if digit.inverted else ""))
    with c, st.container(key="cnn_verdict_drawing" if drawing else None):
        if drawing:  # quick at the pen's lift; provisional until the drawing is still (strokes may still come)
            drawing_verdict(KIND, model, stats, digit, reading, invert, target="cnn_verdict_drawing")
        else:
            show_verdict(reading, digit)
        if reading is not None and reading.check is not None:
            show_score(stats, reading.check, f"cnn.{digit.name}")
    if show_details and reading is not None:
        with c:
            correct_it(digit.image, reading.summary["digit"])
        _explain(model, digit.image)
        fool_the_cnn(digit.image, data.x_test, data.y_test)


def _explain(model, image) -> None:
    """Saliency, feature maps and kernels: computed only while the user has them open (each stroke would pay)."""
    if not st.toggle("Show what the network sees: saliency, feature maps, kernels", key="cnn.explain",
                     persist_state="session", help="Recomputed for every stroke while shown."):
        return
    with st.container(border=True):
        sal, cls = saliency(model, image)
        cols = st.columns([1, 3])
        cols[0].image(png_data_uri(upscale(overlay(image, sal), PREVIEW)), caption=f"saliency for '{cls}': |∂p/∂pixel|")
        with cols[1]:
            kernels = first_layer_kernels(model)
            st.image(png_data_uri(upscale(image_grid([normalize01(k) for k in kernels], ncols=8, fill=1.0), 6)),
                     caption=f"the first layer's {len(kernels)} learned {kernels.shape[1]}×{kernels.shape[2]} "
                             "kernels (white = positive weight)")
        st.caption("Each convolution + pooling halves the maps and sees a larger part of the digit: conv1 and conv2 "
                   "respond to edges and strokes; conv3 and conv4 (7×7 and 3×3 maps) no longer look like the digit, "
                   "they signal combinations of parts, which the dense layer weighs into the ten probabilities.")
        for name, maps in feature_maps(model, image):
            shown = maps[:32]
            size = maps.shape[1]
            factor = max(1, 56 // size)
            st.image(png_data_uri(upscale(image_grid([normalize01(m) for m in shown], ncols=16, fill=0.3), factor)),
                     caption=f"{name}: {len(shown)} of {maps.shape[0]} feature maps, {size}×{size} each")


@st.fragment
def read_digits() -> None:
    """Drawing and uploads re-run only this part of the page."""
    model = get_current(KIND).model
    stats = ood_stats(get_current(KIND))
    st.header("Read your handwriting")
    st.markdown("Draw a digit, or upload photos of digits. They are preprocessed the way MNIST was made: "
                "dark-on-light is inverted, the ink cropped, its longer side scaled to 20 px and centred by "
                "its centre of mass in a 28×28 frame.")
    invert = st.toggle("Invert dark-on-light input, as MNIST's preprocessing does", value=True, key="cnn.invert",
                       help="Turn off to feed black-on-white digits as they are: only a model trained with the "
                            "inversion augmentation reads them.")
    left, right = st.columns([1, 2])
    with left:
        drawn = canvas_digit("cnn", invert)
    with right:
        _show_prediction(model, drawn, show_details=drawn.error is None, stats=stats, invert=invert)
    for digit in uploaded_digits("cnn", invert):
        st.divider()
        _show_prediction(model, digit, show_details=False, stats=stats)


read_digits()
personal_section(current)


def _probe_section() -> None:
    st.header("Digits it has never seen: fonts, both polarities")
    probes = cached(KIND, "probes", 0, make_probes)
    runs = saved_runs(KIND)
    mine = bool(current.params.get("augment_invert"))
    opposite = [r for r in runs if bool(r.record["params"].get("augment_invert")) != mine]
    options = {r.run_id: f"{r.run_id} (augmentation {'on' if r.record['params'].get('augment_invert') else 'off'})"
               for r in runs if r.run_id != current.run_id}
    if not options:
        st.info("Train a second model with the inversion augmentation toggled to compare the two here.")
        compare_id = None
    else:
        default = opposite[0].run_id if opposite and opposite[0].run_id in options else next(iter(options))
        compare_id = st.selectbox("Compare with", list(options), index=list(options).index(default),
                                  format_func=options.get, key="cnn.compare")
    models = {f"current ({'with' if mine else 'without'} augmentation)": current.model}
    if compare_id:
        other = cached(KIND, f"compare-model-{compare_id}", compare_id, lambda: load_run_model(KIND, compare_id))
        other_aug = next(r for r in runs if r.run_id == compare_id).record["params"].get("augment_invert")
        models[f"{compare_id} ({'with' if other_aug else 'without'} augmentation)"] = other
    polarity = np.asarray(probes.polarity)
    rows, preds = [], {}
    for name, model in models.items():
        pred = predict_digits(model, probes.images).argmax(1)
        preds[name] = pred
        row = {"model": name}
        for pol in ("light-on-dark", "dark-on-light"):
            mask = polarity == pol
            row[pol] = f"{(pred[mask] == np.asarray(probes.labels)[mask]).mean():.0%}"
        rows.append(row)
    st.dataframe(rows, hide_index=True)
    shown = probes.select(24)
    captions = []
    for i in shown:
        parts = [f"{p[i]}" for p in preds.values()]
        captions.append(f"{probes.labels[i]} → " + " / ".join(parts))
    st.image([upscale(probes.raw[i], 2) if probes.raw[i].ndim == 2 else probes.raw[i] for i in shown],
             caption=captions, clamp=True)
    st.caption("Each caption: true digit → what " + " / ".join(models) + " read. The probes are cropped, "
               "scaled and centred like MNIST but keep their polarity, so dark-on-light digits reach the network "
               "dark on light: the portfolio's finding, that only the augmented model reads them, shows here.")


_probe_section()
model_panel(KIND)
