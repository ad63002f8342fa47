"""``lkbench serve``: an interactive keypoint editor in the browser.

* :mod:`.codec` — latents ⇄ JSON documents (read by ``lkbench edit --latents``), PNG bytes.
* :mod:`.ops` — the editor's actions, built on the pure editing functions of ``lkbench edit``.
* :mod:`.limits` — the request-body size limit (ASGI middleware).
* :mod:`.app` — the FastAPI app: routes, validation, rendering on a thread pool.
* ``static/`` — the page (plain HTML, JS and CSS; no build step, nothing fetched from elsewhere).

Importing this package imports nothing heavy; import :mod:`.app` for the app.
"""
