"""helmcr: custom resources reconciled into Helm releases by a stateless, one-shot run."""

__version__ = "0.1.0"
