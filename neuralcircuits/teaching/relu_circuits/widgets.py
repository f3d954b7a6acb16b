"""An explorer for the weights of a bias-free 1-2-1 ReLU network (lesson 02)."""

from __future__ import annotations

import torch

from neuralcircuits.science.relu_circuits import relu_net

TARGETS = {
    "identity": lambda x: x,
    "negation": lambda x: -x,
    "abs": lambda x: x.abs(),
}


def explorer_curve(
    w1: float,
    w2: float,
    v1: float,
    v2: float,
    target: str,
    x_range: tuple[float, float] = (-2.0, 2.0),
    points: int = 201,
):
    """The 1-2-1 net's output against the target on a grid: (x, y, target_y, mse)."""
    net = relu_net([[w1], [w2]], [[v1, v2]])
    x = torch.linspace(*x_range, points)[:, None]
    with torch.no_grad():
        y = net(x)
    wanted = TARGETS[target](x)
    return (
        x.squeeze(1),
        y.squeeze(1),
        wanted.squeeze(1),
        float(((y - wanted) ** 2).mean()),
    )


def relu_explorer(target: str = "abs"):
    """Sliders for W_in = [w1, w2] and W_out = [v1, v2], the output redrawn live: a widget to display."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from neuralcircuits.teaching.figures import OUTPUT, TARGET

    def slider(name, value):
        return widgets.FloatSlider(
            value=value,
            min=-2,
            max=2,
            step=0.05,
            description=name,
            continuous_update=True,
            readout_format=".2f",
        )

    controls = {
        "w1": slider("w1 (in)", 1.0),
        "w2": slider("w2 (in)", 0.5),
        "v1": slider("v1 (out)", 1.0),
        "v2": slider("v2 (out)", 0.5),
        "target": widgets.Dropdown(
            options=list(TARGETS), value=target, description="target"
        ),
    }
    out = widgets.Output()

    def redraw(*_):
        x, y, wanted, mse = explorer_curve(**{k: c.value for k, c in controls.items()})
        with out:
            out.clear_output(wait=True)
            # beside the 300 px sliders: 500 px keeps the explorer inside the column
            _, ax = plt.subplots(figsize=(5.0, 3.6))
            ax.plot(
                x, wanted, color=TARGET, lw=6, alpha=0.5, label=controls["target"].value
            )
            ax.plot(x, y, color=OUTPUT, lw=2.5, label="network")
            ax.set_title(
                f"mean squared error: {mse:.4f}" + ("  ✔ exact" if mse < 1e-10 else "")
            )
            ax.set_ylim(-2.5, 2.5)
            ax.legend(loc="lower right")
            plt.show()

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    sliders = widgets.VBox([controls[k] for k in ("target", "w1", "w2", "v1", "v2")])
    return widgets.HBox([sliders, out])
