"""``helmcr scaffold``: from a chart to a deployable operator.

The flow, one module per step: ``chart`` reads the chart; ``render`` asks helm what it renders; ``hints`` reads
the templates, and ``schema`` (with ``infer`` and ``openapi``) turns the values into a structural CRD schema;
``crd``, ``rbac`` (with ``kinds``), ``cronjob`` and ``sample`` build the documents, ``documents`` dumps them;
``generate`` puts them together; ``writer`` writes them without clobbering hand edits; ``command`` is the CLI.
Only ``chart``, ``render``, ``writer`` and ``command`` do I/O.
"""
