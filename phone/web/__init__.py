"""The web page of ``phone serve`` (index.html, app.js, style.css) and, in
vendor/, the onnxruntime-web files it loads (copied at build time by
:mod:`phone.web.assets`). Package data only, plus that build helper."""
