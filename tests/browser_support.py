"""Helpers for the browser tests (the server and chromium fixtures live in conftest.py)."""


def wait_text(pg, text: str, timeout: float = 60) -> None:
    pg.get_by_text(text).first.wait_for(timeout=timeout * 1000)


def drawing_canvas(pg):
    """The drawable canvas's top layer (280 x 280)."""
    return pg.locator("canvas.upper-canvas").first


def draw_stroke(pg, canvas, points) -> None:
    box = canvas.bounding_box()
    x0, y0 = box["x"], box["y"]
    pg.mouse.move(x0 + points[0][0], y0 + points[0][1])
    pg.mouse.down()
    for x, y in points[1:]:
        pg.mouse.move(x0 + x, y0 + y, steps=2)
    pg.mouse.up()
