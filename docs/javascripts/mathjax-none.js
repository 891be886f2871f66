// Loaded by the tutorial pages in place of MathJax from a CDN (mkdocs-jupyter's `custom_mathjax_url`,
// mkdocs.yml): the site is built to open offline, and no tutorial writes LaTeX.
