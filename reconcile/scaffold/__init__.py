"""``helmcr scaffold``: from a chart to a deployable operator.

The flow, one module per step: ``chart`` reads the chart, ``render`` asks helm what it renders, ``schema``/``infer``
(with ``hints`` from the templates) turn its values into a CRD schema, ``crd``, ``rbac``, ``cronjob`` and ``sample``
build the documents, ``generate`` puts them together, ``writer`` writes them without clobbering hand edits, and
``command`` is the CLI. Everything but ``chart``, ``render``, ``writer`` and ``command`` is pure.
"""
