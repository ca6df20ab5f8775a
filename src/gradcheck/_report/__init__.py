"""Reports: the frozen result of a check (`_model`) and its renderings.

```
_model   ReportData, TensorRow, Finding, Component, Settings: data only, no renderer
_text    the terminal table (rich) and the short summary for assertion messages
_json    strict JSON (schema 1) and back
_html    one self-contained page, with a heatmap per tensor (_heatmap)
_report  Report: the model joined to its renderings; what every check returns
```

This ``__init__`` imports nothing, so that importing the model does not load a renderer.
"""
