// MathJax 3 settings: theory pages use pymdownx.arithmatex (generic mode: \( \) inline, \[ \] display);
// notebook pages (mkdocs-jupyter) keep Jupyter's $ and $$ delimiters. Code blocks are never typeset.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true
  }
};
if (typeof document$ !== "undefined") {
  document$.subscribe(() => {
    if (window.MathJax && MathJax.typesetPromise) { MathJax.startupDocument?.(); MathJax.typesetPromise(); }
  });
}
