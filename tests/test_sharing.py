"""A server shared by many visitors (AppTest sessions stand for browsers): who sees, renames, shares and deletes
which runs; settings a link may not give; link text shown as text; a .keras archive that would inflate."""

import os
import re
import subprocess
import sys
import textwrap
import zipfile

import markdown_it
import pytest

from core.store import NotYours, RunStore

OWNER = "browser_id"  # where ui.session keeps this session's browser id (read from the nnp_owner cookie)
ALICE, BOB = "a" * 32, "b" * 32


def _save(runs_dir, owner: str, **extra) -> str:
    return RunStore(runs_dir).save({"kind": "iris", "status": "done", "started": "2026-01-01T00:00:00",
                                    "params": {"epochs": 3}, "metrics": {"test_accuracy": 0.9},
                                    "history": {"loss": [1.0, 0.5]}, "owner": owner, **extra})


def _runs_page(app_page, browser: str, user: dict | None = None):
    """The Runs page for one browser (and signed-in user), with the newest run selected when there is one."""
    at = app_page("runs", timeout=30)
    at.session_state[OWNER] = browser
    if user is not None:
        at.user = user
    at.run()
    if at.dataframe:
        at.session_state["runs.table.0"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _keys(at) -> set[str]:
    return {w.key for kind in ("button", "checkbox", "toggle", "text_input") for w in getattr(at, kind) if w.key}


def _shown(markdown: str) -> str:
    """The text a reader sees of escaped Markdown."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _rendered(markdown: str) -> str:
    """HTML as a CommonMark renderer with GitHub's bare-URL autolinks makes it (as Streamlit's remark-gfm does)."""
    return markdown_it.MarkdownIt("commonmark", {"linkify": True}).enable("linkify").render(markdown)


def test_a_second_browser_neither_sees_nor_deletes_an_unshared_run(app_page, runs_dir):
    run_id = _save(runs_dir, ALICE)
    bob = _runs_page(app_page, BOB)
    assert not bob.dataframe and any("No runs yet" in i.value for i in bob.info)

    alice = _runs_page(app_page, ALICE)
    assert alice.dataframe[0].value["owner"].tolist() == ["you"]
    alice.toggle(key=f"runs.shared.{run_id}").set_value(True).run()
    assert RunStore(runs_dir).get(run_id)["shared"] is True

    bob = _runs_page(app_page, BOB)
    assert bob.dataframe[0].value["owner"].tolist() == ["another visitor"]
    assert "runs.delete" not in _keys(bob) and f"runs.name.{run_id}" not in _keys(bob)
    assert any("None of the selected runs is yours" in c.value for c in bob.caption)
    with pytest.raises(NotYours):  # the store refuses too, whatever a page does
        RunStore(runs_dir).delete(run_id, who=BOB)

    alice = _runs_page(app_page, ALICE)
    alice.checkbox(key="runs.confirm").check().run()
    alice.button(key="runs.delete").click().run()
    assert not alice.exception and RunStore(runs_dir).list() == []


def test_a_signed_in_user_owns_runs_across_browsers_and_names_them_as_text(app_page, runs_dir):
    run_id = _save(runs_dir, "user:ada@example.org")
    ada = {"is_logged_in": True, "email": "ada@example.org", "name": "Ada"}
    bob = _runs_page(app_page, BOB, user={"is_logged_in": True, "email": "bob@example.org"})
    assert not bob.dataframe  # Ada's, not shared

    at = _runs_page(app_page, BOB, user=ada)  # Ada in another browser
    assert at.dataframe[0].value["owner"].tolist() == ["you"]
    name = "[prize](http://evil.example) ![x](http://evil.example/i.png)"
    at.text_input(key=f"runs.name.{run_id}").input(name).run()
    assert RunStore(runs_dir).get(run_id)["name"] == name
    header = next(m.value for m in at.markdown if "MNIST" not in m.value and "prize" in m.value)
    html = _rendered(header)
    assert "<a" not in html and "<img" not in html and "[prize](http://evil.example)" in html
    assert "runs.delete" in _keys(at.checkbox(key="runs.confirm").check().run())


def test_with_read_only_runs_nobody_deletes_from_the_browser(app_page, runs_dir, monkeypatch):
    monkeypatch.setenv("NN_PLAYGROUND_READONLY_RUNS", "1")
    _save(runs_dir, ALICE)
    alice = _runs_page(app_page, ALICE)
    assert "runs.delete" not in _keys(alice) and "runs.confirm" not in _keys(alice)
    assert any("turned off on this server" in c.value for c in alice.caption)
    assert len(RunStore(runs_dir).list()) == 1


def test_a_link_cannot_name_a_file_on_the_server(app_page):
    at = app_page("mnist_cnn", timeout=120)
    at.query_params["cnn.data_path"] = "/etc/passwd"
    at.run()
    assert not at.exception
    assert any("cnn.data_path" in _shown(w.value) and "cannot be set from a link" in _shown(w.value)
               for w in at.warning)  # at the top of the page
    assert "cnn.data_path" not in at.query_params  # removed from the address, so a copied link does not carry it
    texts = [e.value for kind in ("info", "caption", "error", "warning", "markdown") for e in getattr(at, kind)]
    assert not any("passwd" in t for t in texts)  # neither opened nor described
    assert "/etc/passwd" not in repr(at.session_state)  # nor kept as a setting


def test_markdown_in_a_link_value_is_shown_as_text(app_page):
    at = app_page("iris")
    at.query_params["iris.epochs"] = "[click](http://evil.example) ![img](http://evil.example/i.png) www.evil.example"
    at.run()
    assert not at.exception
    [warning] = [w.value for w in at.warning if "Epochs" in w.value]
    html = _rendered(warning)
    assert "<a" not in html and "<img" not in html
    assert "[click](http://evil.example)" in html and "www.evil.example" in html


INFLATING_ARCHIVE = textwrap.dedent("""
    import sys
    import keras  # imported before the baseline, as in the server
    from core.model_files import ModelLoadError, load_model_bytes

    def kb(field):
        return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field))

    data = open(sys.argv[1], "rb").read()
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current resident size
    before = kb("VmRSS:")
    try:
        (load_model_bytes if sys.argv[2] == "checked" else keras.saving.load_model)(*(
            (data, "bomb.keras") if sys.argv[2] == "checked" else (sys.argv[1],)))
    except Exception as err:
        print("refused:", err)
    print("peak growth MB:", (kb("VmHWM:") - before) / 1024)
""")


@pytest.mark.slow
def test_an_inflating_keras_archive_is_refused_before_it_costs_memory(tmp_path):
    """A ~0.3 MB .keras whose config.json unpacks to 256 MB: refused from the zip's directory alone."""
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("metadata.json", '{"keras_version": "3.15.0"}')
        archive.writestr("model.weights.h5", b"")
        with archive.open("config.json", "w", force_zip64=True) as member:
            for _ in range(256):
                member.write(b" " * 2**20)
    assert path.stat().st_size < 2 * 2**20

    def peak_growth(how: str) -> tuple[float, str]:
        out = subprocess.run([sys.executable, "-c", INFLATING_ARCHIVE, str(path), how], capture_output=True,
                             text=True, timeout=300, cwd=os.path.dirname(os.path.dirname(__file__)), check=True).stdout
        print(how, out)
        return float(out.split("peak growth MB:")[1]), out

    unchecked, _ = peak_growth("keras")  # the failure this guards against: Keras reads the whole member
    assert unchecked > 200
    growth, out = peak_growth("checked")
    assert "refused: bomb.keras is refused: its config.json would unpack to 256 MB" in out
    assert growth < 20, f"reading the refused archive raised the peak memory by {growth:.0f} MB"


def test_with_an_identity_provider_the_sidebar_signs_in_and_out(app_page):
    at = app_page()
    at.run()
    assert not [b for b in at.sidebar.button if b.key and b.key.startswith("account.")]  # local default: no accounts
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s",
                          "client_id": "id", "client_secret": "secret",
                          "server_metadata_url": "https://accounts.example.org/.well-known/openid-configuration"}
    at.run()
    assert not at.exception and [b.label for b in at.sidebar.button if b.key.startswith("account.")] == ["Sign in"]
    at.user = {"is_logged_in": True, "email": "ada@example.org", "name": "Ada"}
    at.run()
    assert [b.label for b in at.sidebar.button if b.key.startswith("account.")] == ["Sign out"]
    assert any(_shown(c.value).startswith("Signed in as Ada") for c in at.sidebar.caption)


def test_the_mnist_source_is_a_choice_of_what_the_server_offers(app_page, monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    at = app_page("mnist_cnn", timeout=120)
    at.run()
    source = at.sidebar.selectbox(key="cnn.data_source")
    assert source.options == ["auto", "file", "tensorflow-datasets", "sample", "upload"]
    source.set_value("file").run()  # this server names no file: one clear error, the sidebar still there
    assert not at.exception and any("MNIST_PATH is not set" in _shown(e.value) for e in at.error)
    at.sidebar.selectbox(key="cnn.data_source").set_value("upload").run()
    assert any("Upload an mnist.npz" in i.value for i in at.info)
    at.sidebar.selectbox(key="cnn.data_source").set_value("sample").run()
    assert any("5,000 real digits" in i.value for i in at.info)
