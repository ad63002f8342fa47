"""The editor's JSON API: every action equals the editing code of ``lkbench edit``, bad input gets a
4xx with a message, responses are deterministic, clients never share state, and downloaded
latents replay to the same PNG bytes through ``lkbench edit --latents``."""
import asyncio
import json
import threading
import warnings

import pytest
import torch
from click.testing import CliRunner

from lkbench.cli import cli
from lkbench.serve.app import Busy, Renderer, ServeConfig
from lkbench.serve.codec import (document, latents_from_json, latents_to_json, png_bytes,
                                 png_from_data_url, spec_of)
from lkbench.serve.ops import SERVE_OPS
from lkbench.trainers.latent_keypoint_gan import editing
from lkbench.trainers.latent_keypoint_gan.edit_ops import EDIT_OPS, EditParams

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def sample(G, seed):
    with torch.no_grad():
        return G.sample_latents(1, torch.Generator().manual_seed(seed))


def png(G, lat):
    with torch.no_grad():
        return png_bytes(G.render(lat).images[0])


def ok(client, path, body):
    r = client.post(path, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_info(client):
    info = client.get("/api/info").json()
    assert info["image_size"] == 32 and info["num_keypoints"] == 4 and info["embed_dim"] == 8
    assert [op["name"] for op in info["ops"]] == list(SERVE_OPS)
    assert len(info["colours"]) == 4 and info["latents_header"]["format"] == "lkbench-latents"
    assert len(info["checkpoint_sha256"]) == 64


def test_page_and_assets_are_served_without_external_resources(client):
    html = client.get("/").text
    assert '<script src="/static/app.js"' in html and "/static/style.css" in html
    for path in ("/static/app.js", "/static/style.css"):
        r = client.get(path)
        assert r.status_code == 200 and len(r.text) > 500
        assert "https://" not in r.text and "cdn" not in r.text.lower()
    assert "http" not in html.replace("http-equiv", "")


def test_sample_is_the_seeds_first_sample_and_deterministic(client, G):
    a, b = ok(client, "/api/sample", {"seed": 7}), ok(client, "/api/sample", {"seed": 7})
    assert a == b
    lat = sample(G, 7)
    assert a["latents"] == latents_to_json(lat)
    assert png_from_data_url(a["image"]) == png(G, lat)
    assert ok(client, "/api/sample", {"seed": 8})["image"] != a["image"]


CASES = {  # server params, the same settings as lkbench edit options
    "move": ({"part": 1, "dx": 0.3, "dy": -0.2}, EditParams(part=1, dx=0.3, dy=-0.2)),
    "move-all": ({"scale": 1.3}, EditParams(scale=1.3)),
    "swap-parts": ({"parts": [0, 2]}, EditParams(parts=(0, 2))),
    "swap-background": ({}, EditParams()),
    "swap-global": ({}, EditParams()),
    "remove": ({"part": 2}, EditParams(part=2)),
    "add": ({"part": 1, "dx": 0.25, "dy": 0.1}, EditParams(part=1, dx=0.25, dy=0.1)),
    "resize": ({"part": 0, "factor": 2.0}, EditParams(part=0, factor=2.0)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_action_equals_the_edit_command_op(client, G, name):
    params, edit_params = CASES[name]
    src, donor = sample(G, 0), sample(G, 1)
    op = SERVE_OPS[name]
    body = {"op": name, "latents": latents_to_json(src), "params": params}
    if op.needs_donor:
        body["donor"] = latents_to_json(donor)
    got = ok(client, "/api/edit", body)
    (_, want), = EDIT_OPS[op.edit_op].apply(src, donor if op.needs_donor else None, edit_params)
    assert got["latents"] == latents_to_json(want)
    assert png_from_data_url(got["image"]) == png(G, want)
    assert got["image"] != ok(client, "/api/render", {"latents": body["latents"]})["image"]


def test_interpolate_translate_and_restore(client, G):
    src, donor = sample(G, 0), sample(G, 1)
    s, d = latents_to_json(src), latents_to_json(donor)
    got = ok(client, "/api/edit", {"op": "interpolate", "latents": s, "donor": d,
                                   "params": {"t": 0.5}})
    columns = EDIT_OPS["interpolate"].apply(src, donor, EditParams(steps=3))
    assert columns[1][0] == "t=0.50"
    assert png_from_data_url(got["image"]) == png(G, columns[1][1])
    got = ok(client, "/api/edit", {"op": "move-all", "latents": s,
                                   "params": {"scale": 1.2, "dx": 0.1, "dy": -0.1}})
    assert got["latents"] == latents_to_json(editing.move_all(src, 1.2, offset=(0.1, -0.1)))
    removed = ok(client, "/api/edit", {"op": "remove", "latents": s, "params": {"part": 3}})
    assert removed["latents"]["active"] == [[True, True, True, False]]
    back = ok(client, "/api/edit", {"op": "restore", "latents": removed["latents"],
                                    "params": {"part": 3}})
    assert back == ok(client, "/api/render", {"latents": s})


def test_json_round_trip_is_bit_exact(G):
    lat = editing.add_part(sample(G, 3), (0.2, -0.4), 1)
    spec = spec_of(G, "latent-keypoint-gan")
    back = latents_from_json(json.loads(json.dumps(latents_to_json(lat))), spec)
    for field in ("keypoints", "part_embeddings", "background", "active", "tau", "slots"):
        assert torch.equal(getattr(back, field), getattr(lat, field)), field


def _edit_cli(*args):
    res = CliRunner().invoke(cli, ["edit", *map(str, args), "--device", "cpu"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


def test_downloaded_latents_replay_to_the_same_png_bytes(client, smoke_ckpt, tmp_path):
    info = client.get("/api/info").json()
    cur = ok(client, "/api/sample", {"seed": 3})
    donor = ok(client, "/api/sample", {"seed": 4})
    for op, params in (("move", {"part": 0, "dx": 0.2, "dy": 0.3}),
                       ("add", {"part": 1, "dx": -0.3, "dy": 0.0}),
                       ("swap-parts", {"parts": [1, 2]}), ("remove", {"part": 2})):
        cur = ok(client, "/api/edit", {"op": op, "latents": cur["latents"],
                                       "donor": donor["latents"], "params": params})
    assert len(cur["latents"]["keypoints"][0]) == 5   # the added part is in the file
    doc = {**info["latents_header"], "latents": cur["latents"], "donor": donor["latents"]}
    path = tmp_path / "latents.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "replay.png"
    res = _edit_cli(smoke_ckpt, "--latents", path, "--op", "render", "--out", out)
    assert "wrote 1 rendered image(s) (latents from" in res.output
    assert out.read_bytes() == png_from_data_url(cur["image"])


def test_edit_command_on_saved_latents_matches_the_seeded_command(G, smoke_ckpt, tmp_path):
    """A page's sample of seed s, saved with its donor (s + 1), gives lkbench edit the same grid
    as sampling seed s there: the page and the command edit the same latents."""
    spec = spec_of(G, "latent-keypoint-gan")
    path = tmp_path / "seed0.json"
    path.write_text(json.dumps(document(sample(G, 0), spec, donor=sample(G, 1))))
    for op in ("move", "swap-parts"):
        a, b = tmp_path / f"{op}-seed.png", tmp_path / f"{op}-latents.png"
        _edit_cli(smoke_ckpt, "--op", op, "--num", "1", "--seed", "0", "--part", "1",
                  "--out", a)
        _edit_cli(smoke_ckpt, "--op", op, "--latents", path, "--part", "1", "--out", b)
        assert a.read_bytes() == b.read_bytes(), op


def test_edit_latents_errors_and_checkpoint_warning(G, smoke_ckpt, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = CliRunner().invoke(cli, ["edit", str(smoke_ckpt), "--latents", str(bad), "--op",
                                   "render", "--out", str(tmp_path / "x.png")])
    assert res.exit_code == 2 and "is not a JSON latents file" in res.output
    spec = spec_of(G, "latent-keypoint-gan")
    doc = document(sample(G, 0), spec, checkpoint_sha256="0" * 64)
    doc["latents"]["keypoints"][0][0][0] = True
    bad.write_text(json.dumps(doc))
    res = CliRunner().invoke(cli, ["edit", str(smoke_ckpt), "--latents", str(bad), "--op",
                                   "render", "--out", str(tmp_path / "x.png")])
    assert res.exit_code == 2 and "latents.keypoints must hold numbers, found true" in res.output
    bad.write_text(json.dumps(document(sample(G, 0), spec, checkpoint_sha256="0" * 64)))
    res = _edit_cli(smoke_ckpt, "--latents", bad, "--op", "render", "--out", tmp_path / "y.png")
    assert "Warning: these latents were made with checkpoint sha256 000000000000" in res.output


def _mutated(G, change):
    lat = latents_to_json(sample(G, 0))
    change(lat)
    return lat


BAD_LATENTS = {
    "ragged": (lambda l: l["keypoints"][0].append([0.1]), "must have shape"),
    "bool in floats": (lambda l: l["keypoints"][0][0].__setitem__(0, True), "must hold numbers"),
    "out of range": (lambda l: l["keypoints"][0][0].__setitem__(0, 5.0), "outside the allowed"),
    "wrong D": (lambda l: l["part_embeddings"][0][0].pop(), "must have shape [1, 4, 8]"),
    "two samples": (lambda l: l["keypoints"].append(l["keypoints"][0]), "has 2 samples"),
    "slots": (lambda l: l.__setitem__("slots", [0, 1, 2, 9]), "slots must lie in [0, 4)"),
    "unknown field": (lambda l: l.__setitem__("z", 1), "unknown field(s) z"),
    "missing field": (lambda l: l.pop("background"), "lacks field(s) background"),
    "tau <= 0": (lambda l: l["tau"][0].__setitem__(0, 0.0), "must be > 0"),
    "too many parts": (lambda l: l.update(
        keypoints=[l["keypoints"][0] * 10], part_embeddings=[l["part_embeddings"][0] * 10],
        active=[l["active"][0] * 10], tau=[l["tau"][0] * 10], slots=[0, 1, 2, 3] * 10),
        "accepts 1 to 36"),
}


@pytest.mark.parametrize("case", list(BAD_LATENTS))
def test_malformed_latents_get_422_with_a_message(client, G, case):
    change, message = BAD_LATENTS[case]
    r = client.post("/api/render", json={"latents": _mutated(G, change)})
    assert r.status_code == 422 and message in r.json()["detail"], r.text


@pytest.mark.parametrize("body,status,message", [
    (b"{bad", 422, "not valid JSON"),
    (b'{"op": "move", "latents": {"keypoints": [[[NaN, 0.0]]]}}', 422, "lacks field(s)"),
    (b'{"op": "move"}', 422, "latents: Field required"),
    (b'{"op": "warp", "latents": {}}', 422, "latents lacks field(s) keypoints"),
    (b'[]', 422, "body"),
])
def test_malformed_requests_get_4xx(client, body, status, message):
    r = client.post("/api/edit", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and message in r.json()["detail"], r.text


def test_bad_ops_and_params_get_422(client, G):
    lat = latents_to_json(sample(G, 0))

    def detail(body, path="/api/edit"):
        r = client.post(path, json=body)
        assert r.status_code == 422, r.text
        return r.json()["detail"]

    nan = _mutated(G, lambda l: l["keypoints"][0][0].__setitem__(0, float("nan")))
    r = client.post("/api/render", content=json.dumps({"latents": nan}),  # NaN is not JSON,
                    headers={"content-type": "application/json"})      # but Python writes it
    assert r.status_code == 422 and "not finite" in r.json()["detail"]
    assert "unknown op 'warp'" in detail({"op": "warp", "latents": lat})
    assert "needs donor latents" in detail({"op": "swap-global", "latents": lat})
    assert "params.dx: Input should be less than or equal to 4" in detail(
        {"op": "move", "latents": lat, "params": {"dx": 9}})
    assert "params.bogus: Extra inputs are not permitted" in detail(
        {"op": "move", "latents": lat, "params": {"bogus": 1}})
    assert "part 7 is out of range" in detail({"op": "remove", "latents": lat,
                                               "params": {"part": 7}})
    assert "needs at least one part" in detail({"op": "swap-parts", "latents": lat,
                                                "donor": lat, "params": {}})
    far = ok(client, "/api/edit", {"op": "move", "latents": lat,
                                   "params": {"part": 0, "dx": 3.5}})["latents"]
    assert "would give latents outside this server's limits" in detail(
        {"op": "move", "latents": far, "params": {"part": 0, "dx": 1.0}})
    assert "seed: Input should be greater than or equal to 0" in detail({"seed": -1},
                                                                        "/api/sample")


def test_oversized_bodies_get_413(smoke_ckpt):
    from lkbench.serve.app import app_from_checkpoint
    app = app_from_checkpoint(smoke_ckpt, config=ServeConfig(max_body_bytes=2048))
    with TestClient(app) as c:
        big = {"seed": 1, "pad": "x" * 4000}
        r = c.post("/api/sample", json=big)
        assert r.status_code == 413 and "the limit is 2048 bytes" in r.json()["detail"]

        def chunks():  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b" " * 1000
        r = c.post("/api/sample", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "request body too large" in r.json()["detail"]
        r = c.post("/api/sample", content=b'{"seed": 1}',
                   headers={"content-type": "application/json", "content-length": "x"})
        assert r.status_code == 400
        assert c.post("/api/sample", json={"seed": 1}).status_code == 200


def test_busy_server_answers_503(app, client):
    renderer = app.state.renderer
    renderer._pending = renderer.config.max_pending
    try:
        r = client.post("/api/sample", json={"seed": 0})
    finally:
        renderer._pending = 0
    assert r.status_code == 503 and "busy" in r.json()["detail"] and r.headers["retry-after"]


def test_renderer_bounds_its_queue(G):
    r = Renderer(G, torch.device("cpu"), spec_of(G, "x"), ServeConfig(max_pending=1,
                                                                       render_threads=1))

    async def main():
        gate = threading.Event()
        first = asyncio.ensure_future(r.run(gate.wait, 5))
        await asyncio.sleep(0.05)
        with pytest.raises(Busy):
            await r.run(lambda: 1)
        gate.set()
        assert await first is True
        assert await r.run(lambda: 2) == 2

    asyncio.run(main())
    r.pool.shutdown()


def test_two_clients_do_not_interfere(app, client):
    """Two clients edit different samples at the same time; each ends where it would alone."""
    plans = {seed: [("move", {"part": 0, "dx": 0.1 * i}) for i in range(1, 4)] +
             [("add", {"part": 1, "dx": 0.2}), ("remove", {"part": 0})] for seed in (11, 12)}

    def run(c, seed, barrier=None):
        cur = ok(c, "/api/sample", {"seed": seed})
        for op, params in plans[seed]:
            if barrier:
                barrier.wait(timeout=30)
            cur = ok(c, "/api/edit", {"op": op, "latents": cur["latents"], "params": params})
        return cur

    alone = {seed: run(client, seed) for seed in plans}
    together, barrier = {}, threading.Barrier(2)
    clients = [TestClient(app), TestClient(app)]   # no lifespan: the app's pool stays up
    threads = [threading.Thread(target=lambda c=c, s=s: together.__setitem__(s, run(c, s, barrier)))
               for c, s in zip(clients, plans)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert together == alone
    assert alone[11]["image"] != alone[12]["image"]
