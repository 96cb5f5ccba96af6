"""The CVAE page under AppTest with a small saved run: one name per panel and button, the interpolation's two
ends, and a word on why a barely trained decoder draws grey."""

from core.store import RunStore


def test_the_cvae_page_names_its_two_models_and_explains_a_young_decoder(app_page, runs_dir):
    from core.jobs import TrainingJob

    job = TrainingJob("cvae", {"train_size": 200, "epochs": 1}, store=RunStore(runs_dir)).start()
    assert job.wait(240) and job.progress.snapshot()["run_id"]
    at = app_page("cvae", timeout=240).run()
    at.button(key="cvae.load").click().run()
    assert not at.exception, [e.value for e in at.exception]

    labels = {b.key: b.label for b in at.button}
    assert labels["cvae.train"] == "Train" and labels["latent.train"] == "Train the classifier"
    assert labels["latent.stop"] == "Stop the classifier"
    captions = [c.value for c in at.caption]
    assert any("has seen only 200 images" in c and "grey" in c for c in captions)
    assert any("first and last: test digits 0" in str(i.proto) for i in at.get("image"))  # the ends are shown
    # the latent pad's fragment ran (its weights packed for the browser) and says what lies around its point
    assert any("At z = (0.00, 0.00) the nearest 20 test encodings" in m.value for m in at.markdown)
