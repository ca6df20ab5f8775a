"""Reports: the frozen result of a check (`_model`) and its renderings (text, JSON, HTML, Jupyter).

```
_model         ReportData, TensorRow, Finding, Component, Settings: data only, no renderer
_text          the terminal table (rich), sized to where it goes, and the short summary for logs
_json          strict JSON (schema 1) and back
_html          one self-contained HTML fragment, with a heatmap per tensor (_heatmap, _heatmap_svg)
_display       that fragment as a web page (to_html) and inline in Jupyter (_repr_html_)
_report        Report: the model joined to its renderings; what every check returns
_taylor        TaylorReport: the Taylor test's model (_taylor_model) and renderings (_taylor_text,
               _taylor_html: the remainders against h on log-log axes)
```

This ``__init__`` imports nothing, so that importing the model does not load a renderer.
"""
